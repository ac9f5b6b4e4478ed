"""Item pipeline: `Page` -> `Article`, or the page is skipped with a reason.

The logic lives in `pipelines.extract` (plain classes, also used by `scrapy extract`); this module
adapts it to Scrapy: settings, the date window (NEWS_MAX_AGE_DAYS: an article published before
it is skipped as `too_old`), stats (`news/skipped/<reason>`, `news/articles/extracted`) and
DropItem, which `crawler.logformatter` turns into one line naming the page and the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from crawler.extensions import outlet_stat
from crawler.failures import Drop
from crawler.items import Article, Page
from crawler.window import DateWindow
from pipelines.extract.bounded import BoundedExtractor, Limits
from pipelines.extract.core import ExtractOptions

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def options_from_settings(settings: BaseSettings) -> tuple[ExtractOptions, Limits]:
    return (
        ExtractOptions(min_words=settings.getint("NEWS_MIN_WORDS")),
        Limits(
            max_chars=settings.getint("NEWS_EXTRACT_MAX_CHARS"),
            timeout=settings.getfloat("NEWS_EXTRACT_TIMEOUT"),
            memory_mb=settings.getint("NEWS_EXTRACT_MEMORY_MB"),
            workers=settings.getint("NEWS_EXTRACT_WORKERS"),
        ),
    )


class ExtractionPipeline:
    def __init__(
        self,
        stats: StatsCollector,
        options: ExtractOptions,
        limits: Limits,
        window: DateWindow | None = None,
    ):
        self.stats = stats
        self.options = options
        self.limits = limits
        self.window = window
        self.runner: BoundedExtractor | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractionPipeline:
        assert crawler.stats is not None
        return cls(
            crawler.stats,
            *options_from_settings(crawler.settings),
            DateWindow.from_settings(crawler.settings),
        )

    def open_spider(self) -> None:
        self.runner = BoundedExtractor(self.options, self.limits)

    def close_spider(self) -> None:
        if self.runner is not None:
            self.runner.close()

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Page):
            return item
        if "dataloss" in item.flags:
            self._skip("truncated", "the response ended before its announced Content-Length")
        media_type = item.content_type.split(";")[0].strip().lower()
        if item.html is None or (media_type and media_type not in HTML_TYPES):
            self._skip("not_html", f"content type {media_type or 'unknown'}")
        assert self.runner is not None
        outcome = await self.runner.extract(item.html, item.url, item.outlet, item.fetched_at)
        if outcome.article is None:
            self._skip(outcome.reason or "error", outcome.detail)
        published = outcome.article.get("published")
        if self.window is not None and self.window.too_old(published):
            self._skip("too_old", f"published {published}, before {self.window.oldest:%Y-%m-%d}")
        self.stats.inc_value("news/articles/extracted")
        self.stats.inc_value(outlet_stat(item.url, "extracted"))
        return Article(**outcome.article)

    def _skip(self, reason: str, detail: str) -> NoReturn:
        self.stats.inc_value(f"news/skipped/{reason}")
        raise Drop(reason, detail)
