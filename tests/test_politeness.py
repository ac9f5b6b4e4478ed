"""The live path's parts one by one: Retry-After, refused addresses and redirects, page limits,
one fetch per article, the date window, sitemaps, the user agent. Built from a real Crawler with
the project's settings; the fault-injected crawl (test_faults.py) runs them all together."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler import outlets
from crawler.addons import IdentityAddon
from crawler.failures import Skip
from crawler.live import (
    CanonicalMiddleware,
    PageLimitMiddleware,
    PrivateAddressMiddleware,
    RedirectGuardMiddleware,
    retry_after,
)
from crawler.sitemaps import declares_entities, read_sitemap
from crawler.spiders.outlets import SPIDERS
from crawler.window import DateWindow
from tests.conftest import crawl, fixture_response
from tests.faults import _entity_bomb
from tests.seeds import SEEDS

KI = "https://kyivindependent.com"


def make_crawler(spider: str = "all", **settings: Any) -> Any:
    values = get_project_settings().copy_to_dict()
    values.update(settings)
    crawler = get_crawler(SPIDERS[spider], settings_dict=values)
    crawler.spider = SPIDERS[spider].from_crawler(crawler)
    return crawler


def run(coroutine: Any) -> Any:
    """Run a middleware's coroutine on a loop of its own (asyncio.run would replace the
    reactor's event loop that conftest installs)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def skip_kind(call: Any) -> str:
    with pytest.raises(Skip) as caught:
        call()
    return caught.value.kind


# -- retries ----------------------------------------------------------------------------------


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def response(value: str | None) -> Response:
        headers = {"Retry-After": value} if value is not None else {}
        return Response(f"{KI}/x/", status=503, headers=headers)

    assert retry_after(response("120")) == 120.0
    assert retry_after(response(None)) is None
    assert retry_after(response("soon")) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 80 <= (retry_after(response(later)) or 0) <= 90
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert retry_after(response(past)) == 0.0


# -- refused addresses and redirects ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://224.0.0.251/",  # multicast
        "http://[2002:a00:1::1]/",  # 6to4 of 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",  # Teredo of 10.0.0.1
        "http://[fec0::1]/",  # site-local
        "http://[::ffff:192.168.1.1]/",  # IPv4-mapped
        "http://[::a00:1]/",  # IPv4-compatible
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    ],
)
def test_private_and_local_addresses_are_refused(url: str) -> None:
    mw = PrivateAddressMiddleware.from_crawler(make_crawler())
    with pytest.raises(Skip) as caught:
        run(mw.process_request(Request(url)))
    assert caught.value.kind == "private_address"


def test_loopback_is_allowed_only_with_the_test_setting() -> None:
    allowed = PrivateAddressMiddleware.from_crawler(make_crawler(NEWS_ALLOW_LOOPBACK=True))
    assert run(allowed.process_request(Request("http://127.0.0.1:8080/"))) is None
    with pytest.raises(Skip):
        run(allowed.process_request(Request("http://192.168.1.1/")))
    assert run(allowed.process_request(Request("http://93.184.215.14/"))) is None
    assert run(allowed.process_request(Request("http://[2606:4700::1111]/"))) is None
    assert run(allowed.process_request(Request("http://[2002:5db8:d70e::1]/"))) is None  # 6to4


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        (f"{KI}/a/", "redirect_loop"),
        ("https://tracker.example/landing", "offsite"),
        ("http://10.1.2.3/admin", "private_address"),
        ("http://[::1/", "malformed_redirect"),
    ],
)
def test_redirects_that_must_not_be_followed(location: str, kind: str) -> None:
    mw = RedirectGuardMiddleware.from_crawler(make_crawler())
    request = Request(f"{KI}/b/", meta={"redirect_urls": [f"{KI}/a/"]})
    response = Response(request.url, status=302, headers={"Location": location})
    assert skip_kind(lambda: mw.process_response(request, response)) == kind


def test_redirects_within_the_outlets_are_followed() -> None:
    mw = RedirectGuardMiddleware.from_crawler(make_crawler())
    request = Request(f"{KI}/old-slug/")
    for location in (f"{KI}/new-slug/", "/new-slug/", "https://global.espreso.tv/x-y-z"):
        response = Response(request.url, status=301, headers={"Location": location})
        assert mw.process_response(request, response) is response


# -- page limits, one fetch per article ---------------------------------------------------------


def test_an_outlet_stops_at_its_page_limit() -> None:
    crawler = make_crawler()
    mw = PageLimitMiddleware.from_crawler(crawler)
    limit = outlets.get("kyiv_independent").max_pages
    assert limit
    for i in range(limit):
        mw.process_request(Request(f"{KI}/page-{i}/"))
    mw.process_request(Request(f"{KI}/robots.txt"))  # robots.txt is not counted
    mw.process_request(Request("https://global.espreso.tv/a-b-c"))  # other outlets go on
    assert skip_kind(lambda: mw.process_request(Request(f"{KI}/one-more/"))) == "page_limit"


def test_a_page_whose_canonical_is_the_article_stands_for_it() -> None:
    mw = CanonicalMiddleware.from_crawler(make_crawler())
    amp = fixture_response(SEEDS["002"]["url"].replace("rbc.ua/news/", "rbc.ua/amp/news/"))
    mw.process_response(Request(amp.url), amp)
    article = Request(SEEDS["002"]["url"] + "?utm_source=x")
    assert skip_kind(lambda: mw.process_request(article)) == "same_article"
    # a page cut short stands for nothing: its article is still fetched
    cut = CanonicalMiddleware.from_crawler(make_crawler())
    truncated = amp.replace(flags=["dataloss"])
    cut.process_response(Request(truncated.url), truncated)
    assert cut.process_request(article) is None


def test_amp_links_are_rewritten_before_any_request() -> None:
    rbc = outlets.get("rbc_ukraine")
    amp = SEEDS["002"]["url"].replace("rbc.ua/news/", "rbc.ua/amp/news/")
    assert rbc.rewrite(amp) == SEEDS["002"]["url"]


# -- the date window, sitemaps ------------------------------------------------------------------


def test_the_date_window() -> None:
    window = DateWindow.from_settings(
        Settings({"NEWS_MAX_AGE_DAYS": 3, "NEWS_NOW": "2024-11-03T00:00:00+00:00"})
    )
    assert window is not None
    assert window.too_old("2024-10-30T23:59:00+00:00")
    assert not window.too_old("2024-10-31T00:00:00+00:00")
    assert window.too_old("Wed, 23 Oct 2024 13:05:00 GMT")  # RSS dates
    assert not window.too_old("2024-11-02")
    assert not window.too_old("not a date") and not window.too_old(None)
    assert DateWindow.from_settings(Settings({"NEWS_MAX_AGE_DAYS": None})) is None


def test_google_news_sitemaps_give_publication_dates() -> None:
    body = fixture_response("https://global.espreso.tv/sitemap-news.xml").body
    kind, entries = read_sitemap(body)
    dates = {e.loc: e.published for e in entries}
    assert kind == "urlset"
    assert dates[SEEDS["003"]["url"]] == "2024-11-02T11:37:00+02:00"


def test_sitemap_and_feed_entries_outside_the_window_are_not_requested() -> None:
    crawler = make_crawler(
        "espreso_global", NEWS_MAX_AGE_DAYS=3, NEWS_NOW="2024-11-03T00:00:00+00:00"
    )
    spider = crawler.spider
    asked = {
        r.url
        for url in ("https://global.espreso.tv/sitemap-news.xml", "https://global.espreso.tv/rss")
        for r in (
            spider.parse_sitemap(fixture_response(url))
            if "sitemap" in url
            else spider.parse_feed(fixture_response(url))
        )
    }
    assert SEEDS["003"]["url"] in asked
    assert SEEDS["000"]["url"] not in asked  # 23 October
    assert crawler.stats.get_value("news/skipped/too_old") >= 2


def test_documents_that_declare_entities_are_recognised() -> None:
    assert declares_entities(_entity_bomb("rss", "<rss/>"))
    assert not declares_entities(fixture_response("https://kyivindependent.com/rss/").body)
    # even if one were parsed, entities are not expanded
    kind, entries = read_sitemap(
        _entity_bomb("urlset", "<urlset><url><loc>&lol9;</loc></url></urlset>")
    )
    assert kind == "urlset" and [e.loc for e in entries] in ([], [""])


def test_a_crawl_with_a_date_window_exports_only_recent_articles(tmp_path: Any) -> None:
    result = crawl("all", tmp_path, "NEWS_MAX_AGE_DAYS=3", "NEWS_NOW=2024-11-03T00:00:00+00:00")
    assert result.returncode == 0, result.log[-2000:]
    assert {a["published"][:10] for a in result.articles} == {"2024-11-02"}
    assert len(result.articles) == 2  # seed 003 and its cut copy
    # pages found on listings, which carry no dates, are dropped after extraction
    assert f"Skipped {SEEDS['001']['url']}: too_old" in result.log
    assert result.stats["news/skipped/too_old"] > 0


# -- identity -----------------------------------------------------------------------------------


def test_the_user_agent_names_the_project_and_the_contact() -> None:
    settings = Settings({"NEWS_CONTACT_URL": "https://newsroom.example/crawler"})
    IdentityAddon().update_settings(settings)
    assert settings["USER_AGENT"] == ("syndication-crawler/0.1 (+https://newsroom.example/crawler)")
    own = Settings()
    own.set("USER_AGENT", "our-monitor/2", priority="cmdline")
    IdentityAddon().update_settings(own)
    assert own["USER_AGENT"] == "our-monitor/2"


def test_live_settings_are_polite() -> None:
    import settings.live as live

    assert live.ROBOTSTXT_OBEY and live.AUTOTHROTTLE_ENABLED
    assert live.NEWS_OFFLINE is False and live.NEWS_ALLOW_LOOPBACK is False
    assert live.NEWS_RETRY_BACKOFF > 0 and live.DOWNLOAD_TIMEOUT <= 60
    assert outlets.download_slots() == live.DOWNLOAD_SLOTS


def test_per_outlet_delay_and_concurrency_become_download_slots() -> None:
    slow = dataclasses.replace(outlets.get("rbc_ukraine"), delay=5.0, concurrency=1)
    other = outlets.get("kyiv_independent")
    assert outlets.download_slots((slow, other)) == {
        "newsukraine.rbc.ua": {"delay": 5.0, "concurrency": 1}
    }


def test_gzipped_sitemaps_are_read_within_the_size_limit() -> None:
    crawler = make_crawler("espreso_global", DOWNLOAD_MAXSIZE=1024 * 1024)
    spider = crawler.spider
    plain = fixture_response("https://global.espreso.tv/sitemap-news.xml").body
    url = "https://global.espreso.tv/sitemap-news.xml.gz"
    packed = Response(url, body=gzip.compress(plain))
    assert SEEDS["003"]["url"] in {r.url for r in spider.parse_sitemap(packed)}
    bomb = Response(url, body=gzip.compress(b"<urlset>" + b" " * (4 * 1024 * 1024)))
    assert list(spider.parse_sitemap(bomb)) == []
    assert crawler.stats.get_value("news/errors/decompression_bomb") == 1


def test_feeds_and_sitemaps_served_gzipped_or_as_binary_are_read() -> None:
    # .xml.gz files, and XML served as application/octet-stream, arrive as plain Responses
    spider = make_crawler("espreso_global").spider
    feed = fixture_response("https://global.espreso.tv/rss").body
    sitemap = fixture_response("https://global.espreso.tv/sitemap-news.xml").body
    for body in (feed, gzip.compress(feed)):
        response = Response("https://global.espreso.tv/rss.xml.gz", body=body)
        assert SEEDS["003"]["url"] in {r.url for r in spider.parse_feed(response)}
    response = Response("https://global.espreso.tv/sitemap-news.xml", body=sitemap)
    assert SEEDS["003"]["url"] in {r.url for r in spider.parse_sitemap(response)}
