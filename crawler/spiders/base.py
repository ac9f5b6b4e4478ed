"""The one spider class: discovery for any set of registry outlets.

Discovery starts from each outlet's start points — robots.txt and sitemaps (the Sitemap: lines of
robots.txt, sitemap indexes, Google News sitemaps), RSS/Atom feeds, and section pages with their
pagination — and follows only links the registry calls articles, after the outlet's URL
rewrites (AMP variants) and URL cleaning (tracking parameters). Sitemaps and feeds may be
gzipped or served with any content type. With NEWS_MAX_AGE_DAYS, sitemap entries and feed items
older than that are not followed (`crawler.window`). A sitemap or feed that declares XML
entities is not read (`crawler.sitemaps`).
Every article candidate is sent on as a `Page` item; deciding whether it is an article, and
extracting it, is the pipeline's job.

Every request carries the errback `on_error`: a request that comes to nothing — an HTTP error, a
download error, a middleware's refusal — gets one log line and is counted by kind and by outlet,
as skipped or as an error (`crawler.failures`). The spider does not know whether it runs offline
or live.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse, XmlResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawler import outlets
from crawler.extensions import outlet_stat
from crawler.failures import Outcome, describe, quiet_duplicate_warnings
from crawler.items import Page
from crawler.outlets import Outlet
from crawler.signals import page_discovered, page_done, page_failed, page_parsed
from crawler.sitemaps import declares_entities, read_sitemap
from crawler.urls import clean_url
from crawler.window import DateWindow

logger = logging.getLogger(__name__)

# hrefs that are not pages
_NOT_PAGES = ("#", "mailto:", "javascript:", "tel:", "data:", "sms:")
_ITEMS = "//*[local-name()='item'] | //*[local-name()='entry']"
# in an RSS <item>: <link>; in an Atom <entry>: the alternate (or unqualified) <link href>
_ITEM_LINK = (
    "*[local-name()='link']/text() | *[local-name()='link'][not(@rel) or @rel='alternate']/@href"
)
_ITEM_DATE = (
    "*[local-name()='pubDate' or local-name()='published' or local-name()='updated'"
    " or local-name()='date']/text()"
)


def _origin(request: Request | None) -> str:
    """The URL a request first asked for, before redirects."""
    if request is None:
        return ""
    return str(request.meta.get("redirect_urls", [request.url])[0])


class OutletSpider(Spider):
    """Crawls the outlets in `outlets`; subclasses only set `name` and `outlets`."""

    outlets: ClassVar[tuple[Outlet, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.outlets:
            raise ValueError(f"spider {self.name!r} has no outlets")
        self.allowed_domains = [d for o in self.outlets for d in o.domains]
        self._window: DateWindow | None = None
        self._max_size = 0
        # (url, kind) of the retry list, requested first; filled by the state at spider_opened
        self.revisit: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OutletSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._window = DateWindow.from_settings(crawler.settings)
        spider._max_size = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        quiet_duplicate_warnings()  # the errback's line is the one line per failed page
        return spider

    async def start(self) -> AsyncIterator[Any]:
        # first the retry list: pages an earlier run failed to get or did not reach (filled by
        # the state when the run begins), fetched whole, without conditional GET
        for url, kind in self.revisit:
            if self._outlet(url):
                yield self._request(url, kind, news_revisit=True)
        for outlet in self.outlets:
            for url in outlet.sitemaps:  # robots.txt or a sitemap
                yield self._request(url, "sitemap", news_start=True)
            for url in outlet.feeds:
                yield self._request(url, "feed", news_start=True)
            for url in outlet.listings:
                yield self._request(url, "listing:1", news_start=True)

    def _request(self, url: str, kind: str, **meta: Any) -> Request:
        """The request for a page of `kind` (article, sitemap, feed, listing:<page number>)."""
        what, _, page = kind.partition(":")
        callback = getattr(self, f"parse_{what}")
        return Request(
            url,
            callback=callback,
            errback=self.on_error,
            cb_kwargs={"page": int(page)} if what == "listing" else {},
            meta={"news_kind": kind, **meta},
        )

    def _follow(self, url: str, kind: str) -> Request:
        """A request for a page found on a sitemap, feed or listing: on the retry list until
        it comes to an end (`crawler.signals`)."""
        self.crawler.signals.send_catch_log(
            page_discovered, url=url, kind=kind, outlet=outlets.name_for(url)
        )
        return self._request(url, kind)

    def _parsed(self, response: Response) -> None:
        self.crawler.signals.send_catch_log(page_parsed, response=response)

    # -- discovery ------------------------------------------------------------------------------

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        if response.url.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.body, base_url=response.url):
                if self._outlet(url):
                    yield self._follow(url, "sitemap")
            self._parsed(response)
            return
        xml = self._xml(response, "sitemap")
        if xml is None:
            self._parsed(response)
            return
        kind, entries = read_sitemap(xml.body)
        if kind == "sitemapindex":
            for entry in entries:
                outlet = self._outlet(entry.loc)
                if outlet and outlet.follows_sitemap(entry.loc):
                    yield self._follow(entry.loc, "sitemap")
        elif kind == "urlset":
            bad: list[str] = []
            for entry in entries:
                if self._too_old(entry.date, entry.loc):
                    continue
                article = self._article_url(entry.loc, "sitemap", bad)
                if article:
                    yield self._follow(article, "article")
            self._report_malformed(response.url, bad)
        else:
            self._fail(response.url, "not_a_sitemap", f"not a sitemap (root element {kind!r})")
        self._parsed(response)

    def parse_feed(self, response: Response) -> Iterator[Request]:
        xml = self._xml(response, "feed")
        if xml is None:
            self._parsed(response)
            return
        bad: list[str] = []
        for item in xml.xpath(_ITEMS):
            link = item.xpath(_ITEM_LINK).get()
            if not link or self._too_old(item.xpath(_ITEM_DATE).get(), response.url):
                continue
            try:
                link = urljoin(response.url, link.strip())
            except ValueError:
                bad.append(link)
                continue
            url = self._article_url(link, "feed", bad)
            if url:
                yield self._follow(url, "article")
        self._report_malformed(response.url, bad)
        self._parsed(response)

    def parse_listing(self, response: Response, page: int) -> Iterator[Request]:
        outlet = self._outlet(response.url)
        if outlet is None or not isinstance(response, TextResponse):
            self._count("news/skipped/listing_not_text")
            logger.warning("Listing page %(url)s is not text; ignored", {"url": response.url})
            self._parsed(response)
            return
        self._count("news/pages/listing")
        bad: list[str] = []
        links = [url for url in self._links(response, bad) if outlet.owns(url)]
        self._report_malformed(response.url, bad)
        for link in links:
            url = self._article_url(link, "listing", bad)
            if url:
                yield self._follow(url, "article")
        if page < outlet.max_listing_pages:
            for url in links:
                if outlet.is_pagination_url(url):
                    yield self._follow(url, f"listing:{page + 1}")
        self._parsed(response)

    # -- articles -------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Page]:
        outlet = self._outlet(response.url)
        if outlet is None:  # a redirect left the outlets; the offsite middleware stops most
            self._count("news/skipped/offsite_redirect")
            logger.info(
                "%(url)s belongs to no outlet of this crawl; ignored", {"url": response.url}
            )
            self.crawler.signals.send_catch_log(page_done, request=response.request)
            return
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        yield Page(
            url=response.url,
            outlet=outlet.name,
            status=response.status,
            content_type=content_type,
            html=response.text if isinstance(response, TextResponse) else None,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            flags=list(response.flags),
        )

    # -- failures -------------------------------------------------------------------------------

    def on_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        outcome = describe(failure.value, request.url)
        origin = _origin(request)
        if origin != request.url:  # name the page that was asked for, and where it led
            outcome = outcome._replace(message=f"redirected to {request.url}: {outcome.message}")
        self._report(origin, outcome)
        if request.meta.get("news_start"):
            return  # start points are requested by every run anyway
        if outcome.transient:
            self.crawler.signals.send_catch_log(page_failed, request=request, reason=outcome.kind)
        else:
            self.crawler.signals.send_catch_log(page_done, request=request)

    def _fail(self, url: str, kind: str, message: str) -> None:
        """A response that came but cannot be used: one line, counted as an error."""
        self._report(url, Outcome(kind, message, logging.WARNING, True))

    def _report(self, url: str, outcome: Outcome) -> None:
        self._count_for(url, f"{outcome.heading}/{outcome.kind}")
        verb = "Failed" if outcome.error else "Skipped"
        logger.log(outcome.level, "%s %s: %s", verb, url, outcome.message)

    # -- helpers --------------------------------------------------------------------------------

    def _xml(self, response: Response, what: str) -> TextResponse | None:
        """A sitemap or feed as an XML response — gunzipped within DOWNLOAD_MAXSIZE (.xml.gz
        files), read as XML whatever its content type — or None when it cannot be read
        safely: reported, counted."""
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self._max_size)
            except ValueError as error:  # corrupt, or larger than DOWNLOAD_MAXSIZE unzipped
                self._fail(response.url, "decompression_bomb", f"{what} not unzipped: {error}")
                return None
        if declares_entities(body):
            self._fail(
                response.url,
                "xml_entities",
                f"the {what} declares XML entities (an entity bomb?); not read",
            )
            return None
        if isinstance(response, TextResponse) and body is response.body:
            return response
        return response.replace(body=body, cls=XmlResponse)

    def _outlet(self, url: str) -> Outlet | None:
        return outlets.for_url(url, self.outlets)

    def _links(self, response: TextResponse, bad: list[str]) -> list[str]:
        """The page's links, absolute and cleaned, in order, once each; malformed ones (a port
        out of range, a broken IPv6 host...) go to `bad`."""
        found: dict[str, None] = {}
        for href in response.xpath("//a/@href").getall():
            href = href.strip()
            if not href or href.startswith(_NOT_PAGES):
                continue
            try:
                found[clean_url(response.urljoin(href))] = None
            except ValueError:
                bad.append(href)
        return list(found)

    def _report_malformed(self, page_url: str, bad: list[str]) -> None:
        """One line per page for the malformed links it holds, each counted."""
        if not bad:
            return
        self._count_for(page_url, "skipped/malformed_url", len(bad))
        shown = ", ".join(repr(url[:100]) for url in bad[:3]) + (", ..." if len(bad) > 3 else "")
        logger.info("Skipped %d malformed link(s) on %s: %s", len(bad), page_url, shown)
        bad.clear()

    def _article_url(self, url: str, source: str, bad: list[str]) -> str | None:
        """The cleaned URL if it is an article of one of our outlets, counted by source; a
        malformed URL goes to `bad`."""
        try:
            cleaned = clean_url(url)
        except ValueError:
            bad.append(url)
            return None
        outlet = self._outlet(cleaned)
        if outlet is None:
            return None
        cleaned = outlet.rewrite(cleaned)
        if not outlet.is_article_url(cleaned):
            return None
        self._count(f"news/discovered/{source}")
        return cleaned

    def _too_old(self, value: str | None, url: str) -> bool:
        if self._window is None or not self._window.too_old(value):
            return False
        self._count_for(url, "skipped/too_old")
        return True

    def _count(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, n)

    def _count_for(self, url: str, what: str, n: int = 1) -> None:
        """news/<what>, overall and for the outlet that owns `url`."""
        self._count(f"news/{what}", n)
        self._count(outlet_stat(url, what), n)
