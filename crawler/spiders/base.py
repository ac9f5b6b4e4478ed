"""The one spider class: discovery for any set of registry outlets.

Discovery starts from each outlet's start points — robots.txt and sitemaps (Scrapy's
SitemapSpider machinery, including sitemap indexes), RSS/Atom feeds, and section pages with their
pagination — and follows only links the registry calls articles. Every article candidate is sent
on as a `Page` item; deciding whether it is an article, and extracting it, is the pipeline's job.
The spider does not know whether it runs offline or live.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from scrapy import Request
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import SitemapSpider

from crawler import outlets
from crawler.items import Page
from crawler.outlets import Outlet
from crawler.urls import clean_url

logger = logging.getLogger(__name__)

# RSS <item><link>, and Atom <entry><link href> that is the alternate (or unqualified) link.
_FEED_LINKS = (
    "//*[local-name()='item']/*[local-name()='link']/text()"
    " | //*[local-name()='entry']/*[local-name()='link']"
    "[not(@rel) or @rel='alternate']/@href"
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

    async def start(self) -> AsyncIterator[Any]:
        async for request in super().start():  # robots.txt and sitemaps
            yield request
        for outlet in self.outlets:
            for url in outlet.feeds:
                yield Request(url, callback=self.parse_feed)
            for url in outlet.listings:
                yield Request(url, callback=self.parse_listing, cb_kwargs={"page": 1})

    # -- discovery ------------------------------------------------------------------------------

    def sitemap_filter(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if getattr(entries, "type", None) == "sitemapindex":
            for entry in entries:
                outlet = self._outlet(entry.get("loc", ""))
                if outlet and outlet.follows_sitemap(entry["loc"]):
                    yield entry
            return
        for entry in entries:
            url = self._article_url(entry.get("loc", ""), "sitemap")
            if url:
                yield {**entry, "loc": url}

    def parse_feed(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            self._count("news/skipped/feed_not_text")
            logger.warning("Feed %(url)s is not text; ignored", {"url": response.url})
            return
        for link in response.xpath(_FEED_LINKS).getall():
            url = self._article_url(response.urljoin(link.strip()), "feed")
            if url:
                yield Request(url, callback=self.parse_article)

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
                yield Request(url, callback=self.parse_article)
        if page >= outlet.max_listing_pages:
            return
        for link in links:
            url = clean_url(link.url)
            if outlet.is_pagination_url(url):
                yield Request(url, callback=self.parse_listing, cb_kwargs={"page": page + 1})

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

    # -- helpers --------------------------------------------------------------------------------

    def _outlet(self, url: str) -> Outlet | None:
        return outlets.for_url(url, self.outlets)

    def _article_url(self, url: str, source: str) -> str | None:
        """The cleaned URL if it is an article of one of our outlets, counted by source."""
        url = clean_url(url)
        outlet = self._outlet(url)
        if outlet is None or not outlet.is_article_url(url):
            return None
        self._count(f"news/discovered/{source}")
        return url

    def _count(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)
