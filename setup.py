# For scrapyd-deploy, which builds an egg with `setup.py bdist_egg` (and would write its own
# setup.py here otherwise). Everything else is in pyproject.toml.
from setuptools import setup

setup()
