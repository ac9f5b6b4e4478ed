"""Discovery from each outlet's saved feed, sitemap and listing pages, by calling the spider's
callbacks on responses built from the fixtures (no engine), and by a real crawl per outlet."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.outlets import OUTLETS, Outlet
from crawler.spiders.outlets import SPIDERS
from tests.conftest import MANIFEST, crawl, fixture_response
from tests.seeds import SEEDS


def make_spider(name: str) -> Any:
    crawler = get_crawler(SPIDERS[name], settings_dict=get_project_settings().copy_to_dict())
    return SPIDERS[name].from_crawler(crawler)


def seed_urls(outlet: Outlet) -> set[str]:
    return {s["url"] for s in SEEDS.values() if s["outlet"] == outlet.name}


def article_requests(results: Any) -> set[str]:
    return {
        r.url for r in results if isinstance(r, Request) and r.callback.__name__ == "parse_article"
    }


@pytest.mark.parametrize("outlet", OUTLETS, ids=lambda o: o.name)
def test_feed_links_to_articles(outlet: Outlet) -> None:
    spider = make_spider(outlet.name)
    found: set[str] = set()
    for url in outlet.feeds:
        found |= article_requests(spider.parse_feed(fixture_response(url)))
    assert found, f"{outlet.name}: its feed yields no article"
    assert all(outlet.is_article_url(u) and "utm_" not in u for u in found)


@pytest.mark.parametrize("outlet", OUTLETS, ids=lambda o: o.name)
def test_sitemaps_lead_to_the_seed_articles(outlet: Outlet) -> None:
    # robots.txt -> sitemap index -> sitemaps -> articles, as the spider follows them
    spider = make_spider(outlet.name)
    queue = list(outlet.sitemaps)
    found: set[str] = set()
    while queue:
        url = queue.pop()
        if MANIFEST.get(url) is None:
            continue
        for request in spider.parse_sitemap(fixture_response(url)):
            if request.callback == spider.parse_sitemap:
                queue.append(request.url)
            else:
                found.add(request.url)
    assert seed_urls(outlet) <= found
    assert all(outlet.is_article_url(u) for u in found)


@pytest.mark.parametrize("outlet", OUTLETS, ids=lambda o: o.name)
def test_listing_pages_link_to_articles_and_the_next_page(outlet: Outlet) -> None:
    spider = make_spider(outlet.name)
    results = list(spider.parse_listing(fixture_response(outlet.listings[0]), page=1))
    assert article_requests(results), f"{outlet.name}: listing yields no article"
    next_pages = [r for r in results if r.callback.__name__ == "parse_listing"]
    assert next_pages and all(outlet.is_pagination_url(r.url) for r in next_pages)
    assert next_pages[0].cb_kwargs == {"page": 2}


def test_listing_pagination_stops_at_the_outlet_limit() -> None:
    spider = make_spider("espreso_global")
    limit = spider.outlets[0].max_listing_pages
    results = list(spider.parse_listing(fixture_response("https://global.espreso.tv/news"), limit))
    assert not [r for r in results if r.callback.__name__ == "parse_listing"]


def test_tracking_parameters_are_dropped_before_requesting() -> None:
    spider = make_spider("rbc_ukraine")
    feed = "https://newsukraine.rbc.ua/static/rss/newsukraine.rbc.ua.en.rss.xml"
    assert SEEDS["002"]["url"] in article_requests(spider.parse_feed(fixture_response(feed)))


@pytest.mark.parametrize("outlet", OUTLETS, ids=lambda o: o.name)
def test_crawling_one_outlet_exports_its_seed_articles(outlet: Outlet, tmp_path) -> None:
    result = crawl(outlet.name, tmp_path)
    assert result.returncode == 0, result.log[-2000:]
    assert seed_urls(outlet) <= {a["url"] for a in result.articles}
    assert {a["outlet"] for a in result.articles} == {outlet.name}
    for source in ("sitemap", "feed", "listing"):
        assert result.stats.get(f"news/discovered/{source}", 0) > 0, source
