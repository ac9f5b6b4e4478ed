"""Downloader middlewares."""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse

from crawler import outlets
from crawler.encoding import choose_encoding
from crawler.extensions import StateExtension
from crawler.failures import Skip
from crawler.state import utc_now

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class CharsetMiddleware:
    """Decode HTML that declares no charset, or declares one its bytes contradict, the way
    `crawler.encoding` says.

    For a non-UTF-8 page that declares nothing, Scrapy asks charset-normalizer, which reads a
    mostly-English windows-1251 page as a Latin charset (cp1257 for seed 004's page) and turns
    its Cyrillic into mojibake; the outlet's default comes first here. A page whose declaration is
    wrong would reach the feed as U+FFFD or mojibake; it is decoded as what it is. Counted as
    `news/charset/undeclared` and `news/charset/wrong`; logged at INFO once per site and
    per case, then at DEBUG. Must sit below HttpCompressionMiddleware (590) so it sees the
    decompressed body.
    """

    def __init__(self, stats: StatsCollector):
        self.stats = stats
        self._told: set[tuple[str, str]] = set()  # (host, case) already logged at INFO

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetMiddleware:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, HtmlResponse) or not response.body:
            return response
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        outlet = outlets.for_url(response.url)
        encoding, how = choose_encoding(
            response.body, content_type, outlet.default_encoding if outlet else None
        )
        if how in ("declared", "valid UTF-8"):
            return response  # what Scrapy picks as well
        case = "wrong" if how.startswith("declared") else "undeclared"
        self.stats.inc_value(f"news/charset/{case}")
        host = response.url.split("/")[2]
        level = logging.DEBUG if (host, case) in self._told else logging.INFO
        self._told.add((host, case))
        if case == "undeclared":
            said, basis = "declares no charset and is not UTF-8", how
        else:  # "declared X but ...[; how the charset was chosen]"
            said, _, basis = how.partition("; ")
            said = said.replace("declared", "declares", 1)
        logger.log(
            level,
            "%(url)s %(said)s; decoding it as %(encoding)s%(basis)s%(more)s",
            {
                "url": response.url,
                "said": said,
                "encoding": encoding,
                "basis": f" ({basis})" if basis else "",
                "more": "" if level == logging.DEBUG else "; other pages of the site: DEBUG",
            },
        )
        return response.replace(encoding=encoding)


class ConditionalGetMiddleware:
    """Fetch only what changed since the last run.

    A request for a URL fetched before carries If-None-Match / If-Modified-Since with the
    validators the server gave then; a 304 answer, or a 200 whose body hashes the same as last
    time (for servers without validators), ends the request there (`news/skipped/not_modified`,
    `news/skipped/unchanged`, logged at DEBUG): an unchanged article is not extracted again, an
    unchanged listing or feed is not parsed again. robots.txt is always fetched whole. What each
    fetch saw is recorded in the state (StateExtension). Sits below HttpCompressionMiddleware
    (590), so the hash is of the decompressed body.
    """

    def __init__(self, state: StateExtension, stats: StatsCollector):
        self.state = state
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalGetMiddleware:
        state = crawler.get_extension(StateExtension)
        if state is None:
            raise NotConfigured("StateExtension is not enabled")
        assert crawler.stats is not None
        return cls(state, crawler.stats)

    def process_request(self, request: Request) -> None:
        if _is_robots(request.url) or self.state.run_id is None:
            return
        if request.meta.get("news_revisit"):
            return  # from the retry list: fetched whole, whatever an earlier fetch recorded
        known = self.state.store.validators(request.url)
        if known is None:
            return
        request.meta["news_known_hash"] = known.body_hash
        if known.etag:
            request.headers.setdefault("If-None-Match", known.etag)
        if known.last_modified:
            request.headers.setdefault("If-Modified-Since", known.last_modified)

    def process_response(self, request: Request, response: Response) -> Response:
        if _is_robots(response.url):
            return response
        fetched_at = utc_now()
        if response.status == 304:
            known = self.state.store.validators(request.url)
            if known is not None:
                self.state.record_fetch(
                    request.url, 200, known.etag, known.last_modified, known.body_hash, fetched_at
                )
            raise Skip("not_modified", "not modified since the last run", logging.DEBUG)
        if response.status != 200 or "dataloss" in response.flags:
            # a body cut short is not what the page holds: no validators, no hash to compare
            self.state.record_fetch(response.url, response.status, None, None, None, fetched_at)
            return response
        body_hash = hashlib.sha256(response.body).hexdigest()
        record = (
            response.url,
            200,
            _header(response, "ETag"),
            _header(response, "Last-Modified"),
            body_hash,
            fetched_at,
        )
        if request.meta.get("news_known_hash") == body_hash:
            self.state.record_fetch(*record)
            raise Skip("unchanged", "unchanged since the last run", logging.DEBUG)
        if request.meta.get("news_kind", "article") == "article":
            self.state.record_fetch(*record)
        else:  # kept once the page's links are listed (StateExtension.page_parsed)
            request.meta["news_fetch"] = record
        return response


def _is_robots(url: str) -> bool:
    return url.endswith("/robots.txt")


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
