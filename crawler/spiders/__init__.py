"""Spiders: one per registry outlet, plus `all`, which crawls every outlet in one process."""
