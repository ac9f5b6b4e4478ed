"""The outlet registry and its saved pages, checked for every outlet.

A new registry entry fails these tests until its fixtures exist; the messages say what to add.
"""

from __future__ import annotations

import re

import pytest

from crawler import outlets
from crawler.outlets import OUTLETS, Outlet
from crawler.spiders.outlets import ALL_SPIDER, SPIDERS
from tests.conftest import MANIFEST

HOW = "save it under fixtures/<domain>/ and list it in fixtures/manifest.json (fixtures/README.md)"


@pytest.mark.parametrize("outlet", OUTLETS, ids=lambda o: o.name)
def test_every_start_point_is_saved(outlet: Outlet) -> None:
    starts = [*outlet.sitemaps, *outlet.feeds, *outlet.listings]
    assert outlet.sitemaps and outlet.feeds and outlet.listings, (
        f"{outlet.name}: give it a sitemap (or robots.txt), a feed and a listing page"
    )
    missing = [url for url in starts if MANIFEST.get(url) is None]
    assert missing == [], f"{outlet.name}: start points with no saved page: {missing}; {HOW}"


@pytest.mark.parametrize("outlet", OUTLETS, ids=lambda o: o.name)
def test_every_outlet_has_a_saved_article(outlet: Outlet) -> None:
    articles = [
        p
        for p in MANIFEST.pages
        if outlet.is_article_url(p.url) and p.status == 200 and p.origin.startswith("seed:")
    ]
    assert articles, f"{outlet.name}: no saved article page from a seed; {HOW}"


def test_every_saved_page_belongs_to_an_outlet() -> None:
    orphans = [p.url for p in MANIFEST.pages if outlets.for_url(p.url) is None]
    assert orphans == []


def test_every_saved_file_exists_and_says_where_its_words_come_from() -> None:
    for page in MANIFEST.pages:
        assert page.path.is_file(), page.path
        assert page.origin == "synthetic" or re.fullmatch(
            r"seed:\d{3}_[0-9a-f]{16}\.txt", page.origin
        )
        assert page.note, f"{page.url} has no note saying what it is for"


def test_one_spider_per_outlet_plus_all() -> None:
    assert set(SPIDERS) == {o.name for o in OUTLETS} | {ALL_SPIDER}
    assert SPIDERS[ALL_SPIDER].outlets == OUTLETS
    for outlet in OUTLETS:
        assert SPIDERS[outlet.name].outlets == (outlet,)


def test_article_rules_tell_articles_from_other_pages() -> None:
    ki = outlets.get("kyiv_independent")
    assert ki.is_article_url("https://kyivindependent.com/some-story-slug/")
    assert not ki.is_article_url("https://kyivindependent.com/tag/north-korea/")
    assert not ki.is_article_url("https://kyivindependent.com/some-story-slug")  # no slash
    assert not ki.is_article_url("https://other.example/some-story-slug/")
    rbc = outlets.get("rbc_ukraine")
    assert rbc.is_article_url("https://newsukraine.rbc.ua/news/a-b-c-1729693428.html")
    assert not rbc.is_article_url("https://newsukraine.rbc.ua/news/page-2")


def test_registry_entries_are_validated() -> None:
    with pytest.raises(ValueError, match="lowercase identifier"):
        Outlet(name="Bad Name", title="x", domains=("x.example",), home="", article_patterns=("x",))
    with pytest.raises(ValueError, match="domain"):
        Outlet(name="x", title="x", domains=(), home="", article_patterns=("x",))
    with pytest.raises(ValueError, match="article pattern"):
        Outlet(name="x", title="x", domains=("x.example",), home="")
    with pytest.raises(KeyError, match="unknown outlet"):
        outlets.get("nope")
