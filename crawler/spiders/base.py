"""The one spider class: discovery for any set of registry outlets.

Discovery starts from each outlet's start points — robots.txt and sitemaps (Scrapy's
SitemapSpider machinery, including sitemap indexes), RSS/Atom feeds, and section pages with their
pagination — and follows only links the registry calls articles, after the outlet's URL
rewrites (AMP variants) and URL cleaning (tracking parameters). With NEWS_MAX_AGE_DAYS, sitemap
entries and feed items older than that are not followed. Every article candidate is sent on as a
`Page` item; deciding whether it is an article, and extracting it, is the pipeline's job.

Every request carries the errback `on_error` (set by `ErrbackMiddleware` on requests the spider
did not make itself): a request that comes to nothing — an HTTP error, a download error, a
middleware's refusal — gets one log line and is counted by kind and by outlet, as skipped or as
an error (`crawler.failures`). The spider does not know whether it runs offline or live.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urljoin

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import SitemapSpider
from twisted.python.failure import Failure

from crawler import outlets
from crawler.failures import describe
from crawler.items import Page
from crawler.outlets import Outlet
from crawler.urls import clean_url

logger = logging.getLogger(__name__)

_ITEMS = "//*[local-name()='item'] | //*[local-name()='entry']"
# in an RSS <item>: <link>; in an Atom <entry>: the alternate (or unqualified) <link href>
_ITEM_LINK = (
    "*[local-name()='link']/text() | *[local-name()='link'][not(@rel) or @rel='alternate']/@href"
)
_ITEM_DATE = (
    "*[local-name()='pubDate' or local-name()='published' or local-name()='updated'"
    " or local-name()='date']/text()"
)


class OutletSpider(SitemapSpider):
    """Crawls the outlets in `outlets`; subclasses only set `name` and `outlets`."""

    outlets: ClassVar[tuple[Outlet, ...]] = ()
    # Every sitemap entry goes to one callback; which entries are articles is decided in
    # sitemap_filter, per outlet, from the registry.
    sitemap_rules = (("", "parse_article"),)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not self.outlets:
            raise ValueError(f"spider {self.name!r} has no outlets")
        self.sitemap_urls = [url for o in self.outlets for url in o.sitemaps]
        self.allowed_domains = [d for o in self.outlets for d in o.domains]
        self._oldest: datetime | None = None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> OutletSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        days = crawler.settings.get("NEWS_MAX_AGE_DAYS")
        if days not in (None, ""):
            now = crawler.settings.get("NEWS_NOW")
            reference = datetime.fromisoformat(now) if now else datetime.now(UTC)
            if reference.tzinfo is None:
                reference = reference.replace(tzinfo=UTC)
            spider._oldest = reference - timedelta(days=float(days))
        return spider

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():  # robots.txt and sitemaps
            yield request.replace(errback=self.on_error)
        for outlet in self.outlets:
            for url in outlet.feeds:
                yield Request(url, callback=self.parse_feed, errback=self.on_error)
            for url in outlet.listings:
                yield Request(
                    url, callback=self.parse_listing, errback=self.on_error, cb_kwargs={"page": 1}
                )

    # -- discovery ------------------------------------------------------------------------------

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if getattr(entries, "type", None) == "sitemapindex":
            for entry in entries:
                outlet = self._outlet(entry.get("loc", ""))
                if outlet and outlet.follows_sitemap(entry["loc"]):
                    yield entry
            return
        for entry in entries:
            if self._too_old(entry.get("lastmod")):
                continue
            url = self._article_url(entry.get("loc", ""), "sitemap")
            if url:
                yield {**entry, "loc": url}

    def parse_feed(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            self._count("news/skipped/feed_not_text")
            logger.warning("Feed %(url)s is not text; ignored", {"url": response.url})
            return
        for item in response.xpath(_ITEMS):
            link = item.xpath(_ITEM_LINK).get()
            if not link or self._too_old(item.xpath(_ITEM_DATE).get()):
                continue
            url = self._article_url(link.strip(), "feed", base=response.url)
            if url:
                yield Request(url, callback=self.parse_article, errback=self.on_error)

    def parse_listing(self, response: Response, page: int) -> Iterator[Request]:
        outlet = self._outlet(response.url)
        if outlet is None or not isinstance(response, TextResponse):
            self._count("news/skipped/listing_not_text")
            logger.warning("Listing page %(url)s is not text; ignored", {"url": response.url})
            return
        self._count("news/pages/listing")
        links = LinkExtractor(allow_domains=outlet.domains).extract_links(response)
        for link in links:
            url = self._article_url(link.url, "listing")
            if url:
                yield Request(url, callback=self.parse_article, errback=self.on_error)
        if page >= outlet.max_listing_pages:
            return
        for link in links:
            url = self._clean(link.url)
            if url and outlet.is_pagination_url(url):
                yield Request(
                    url,
                    callback=self.parse_listing,
                    errback=self.on_error,
                    cb_kwargs={"page": page + 1},
                )

    # -- articles -------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Page]:
        outlet = self._outlet(response.url)
        if outlet is None:  # a redirect left the outlets; the offsite middleware stops most
            self._count("news/skipped/offsite_redirect")
            logger.info(
                "%(url)s belongs to no outlet of this crawl; ignored", {"url": response.url}
            )
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
        outcome = describe(failure.value)
        what = f"{outcome.heading}/{outcome.kind}"
        self._count(f"news/{what}")
        self._count(f"news/outlet/{outlets.name_for(request.url)}/{what}")
        logger.log(
            outcome.level,
            "%(verb)s %(url)s: %(message)s",
            {
                "verb": "Failed" if outcome.error else "Skipped",
                "url": request.url,
                "message": outcome.message,
            },
        )

    # -- helpers --------------------------------------------------------------------------------

    def _outlet(self, url: str) -> Outlet | None:
        return outlets.for_url(url, self.outlets)

    def _clean(self, url: str, base: str | None = None) -> str | None:
        """The cleaned absolute URL, or None (counted, logged) when it is malformed."""
        try:
            if base is not None:
                url = urljoin(base, url)
            return clean_url(url)
        except ValueError as error:
            self._count("news/skipped/malformed_url")
            logger.info("Malformed link %(url)r ignored: %(error)s", {"url": url, "error": error})
            return None

    def _article_url(self, url: str, source: str, base: str | None = None) -> str | None:
        """The cleaned URL if it is an article of one of our outlets, counted by source."""
        cleaned = self._clean(url, base)
        outlet = self._outlet(cleaned) if cleaned else None
        if outlet is None or cleaned is None:
            return None
        cleaned = outlet.rewrite(cleaned)
        if not outlet.is_article_url(cleaned):
            return None
        self._count(f"news/discovered/{source}")
        return cleaned

    def _too_old(self, value: str | None) -> bool:
        if self._oldest is None or not value:
            return False
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                when = parsedate_to_datetime(value.strip())
            except (TypeError, ValueError, IndexError):
                return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when < self._oldest:
            self._count("news/skipped/too_old")
            return True
        return False

    def _count(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)


class ErrbackMiddleware:
    """Spider middleware: requests the spider did not build itself (SitemapSpider's, for
    sitemaps and their entries) get the spider's errback too."""

    def __init__(self, crawler: Any):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> ErrbackMiddleware:
        return cls(crawler)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        for item in result:
            yield self._with_errback(item)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for item in result:
            yield self._with_errback(item)

    def _with_errback(self, item: Any) -> Any:
        spider = self.crawler.spider
        if isinstance(item, Request) and item.errback is None and isinstance(spider, OutletSpider):
            return item.replace(errback=spider.on_error)
        return item
