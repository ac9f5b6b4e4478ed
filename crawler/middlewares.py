"""Downloader middlewares."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.http import HtmlResponse

from crawler import outlets
from crawler.encoding import declared_encoding, guess_encoding

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class UndeclaredCharsetMiddleware:
    """Decode HTML that declares no charset the way `crawler.encoding` says.

    For a non-UTF-8 page that declares nothing, Scrapy asks charset-normalizer, which reads a
    mostly-English windows-1251 page as a Latin charset (cp1257 for seed 004's page) and turns its
    Cyrillic into mojibake; the outlet's default comes first here. Must sit below
    HttpCompressionMiddleware (590) so it sees the decompressed body.
    """

    def __init__(self, stats: StatsCollector):
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UndeclaredCharsetMiddleware:
        assert crawler.stats is not None
        return cls(crawler.stats)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, HtmlResponse) or not response.body:
            return response
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        if declared_encoding(response.body, content_type):
            return response
        outlet = outlets.for_url(response.url)
        encoding, how = guess_encoding(response.body, outlet.default_encoding if outlet else None)
        if how == "valid UTF-8":
            return response  # what Scrapy picks as well
        self.stats.inc_value("news/charset/undeclared")
        logger.info(
            "%(url)s declares no charset and is not UTF-8; decoding it as %(encoding)s (%(how)s)",
            {"url": response.url, "encoding": encoding, "how": how},
        )
        return response.replace(encoding=encoding)
