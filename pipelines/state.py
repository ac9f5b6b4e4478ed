"""Item pipeline: keep only what is new or changed since the last run, and store it.

An article whose text hash equals the stored one is dropped (`news/articles/unchanged`, logged
at DEBUG); a new or changed one is stored at once — one transaction each, so a run killed later
loses nothing it extracted — and passed on. When one URL is extracted twice in a run (an AMP or
tracking variant resolving to the same article), the longer text is kept. The pipeline also
begins the run: it takes the state lock, and a run that finds it held closes at once with the
reason `state_locked`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider

from crawler.extensions import StateExtension
from crawler.failures import Drop
from crawler.items import Article
from crawler.state import StateLocked, kill_if

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class StatePipeline:
    def __init__(self, state: StateExtension, stats: StatsCollector):
        self.state = state
        self.stats = stats
        self.saved: dict[str, int] = {}  # url -> word count, this run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatePipeline:
        state = crawler.get_extension(StateExtension)
        if state is None:
            raise RuntimeError("StatePipeline needs crawler.extensions.StateExtension enabled")
        assert crawler.stats is not None
        return cls(state, crawler.stats)

    def open_spider(self) -> None:
        try:
            run_id = self.state.begin()
        except StateLocked as error:
            self.stats.set_value("news/state/locked", 1)
            logger.error("%(error)s", {"error": error})
            raise CloseSpider("state_locked") from None
        logger.info(
            "Run %(run)s, state in %(path)s", {"run": run_id, "path": self.state.store.path}
        )

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        seen = self.saved.get(item.url)
        if seen is not None:
            self.stats.inc_value("news/grouping/same_url")
            logger.info(
                "%(url)s was extracted twice (an AMP or tracking variant); the longer text kept",
                {"url": item.url},
            )
            if item.word_count <= seen:
                raise Drop("same_url", "a shorter variant of an article of this run")
        else:
            stored = self.state.store.content_hash(item.url)
            if stored == item.content_hash:
                self.stats.inc_value("news/articles/unchanged")
                raise Drop("unchanged", "since the last run", log_level="DEBUG")
            self.stats.inc_value("news/articles/updated" if stored else "news/articles/new")
        self.state.store.save_article(asdict(item))
        self.saved[item.url] = item.word_count
        kill_if(self.state.kill_at, f"articles:{len(self.saved)}")
        return item
