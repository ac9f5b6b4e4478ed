"""Item pipeline: group the run's articles into syndication clusters and write the snapshot.

Articles are collected as they pass (one per URL: an AMP or tracking variant that resolves to an
article already seen is folded into it) and grouped when the spider closes, oldest first, with
IDF weights from the whole run, so the result does not depend on download order. The logic is
in `pipelines.group` (plain classes, also used by `scrapy dedup`); this module adapts it to
Scrapy: settings, stats (`news/grouping/*`) and the snapshot in NEWS_OUTPUT_DIR.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from crawler.items import Article
from pipelines.export import SnapshotWriter
from pipelines.group.grouper import GroupOptions, group_batch

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


def group_options_from_settings(settings: BaseSettings) -> GroupOptions:
    return GroupOptions(
        num_perm=settings.getint("NEWS_GROUP_NUM_PERM"),
        seed=settings.getint("NEWS_GROUP_SEED"),
        lsh_bands=settings.getint("NEWS_GROUP_LSH_BANDS"),
        lsh_rows=settings.getint("NEWS_GROUP_LSH_ROWS"),
        rewrite_threshold=settings.getfloat("NEWS_GROUP_REWRITE_THRESHOLD"),
        rewrite_threshold_unsourced=settings.getfloat("NEWS_GROUP_REWRITE_THRESHOLD_UNSOURCED"),
        duplicate_containment=settings.getfloat("NEWS_GROUP_DUPLICATE_CONTAINMENT"),
        window_hours=settings.getfloat("NEWS_GROUP_WINDOW_HOURS"),
    )


class GroupingPipeline:
    def __init__(self, stats: StatsCollector, options: GroupOptions, out_dir: str):
        self.stats = stats
        self.options = options
        self.writer = SnapshotWriter(out_dir)
        self.articles: dict[str, Article] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GroupingPipeline:
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            crawler.stats, group_options_from_settings(settings), settings["NEWS_OUTPUT_DIR"]
        )

    def process_item(self, item: Any) -> Any:
        if isinstance(item, Article):
            seen = self.articles.get(item.url)
            if seen is not None:
                self.stats.inc_value("news/grouping/same_url")
                logger.info(
                    "%(url)s was extracted twice (an AMP or tracking variant); one kept",
                    {"url": item.url},
                )
            if seen is None or item.word_count > seen.word_count:
                self.articles[item.url] = item
        return item

    def close_spider(self) -> None:
        started = time.perf_counter()
        clusters = self._group()
        seconds = time.perf_counter() - started
        ordered = sorted(self.articles.values(), key=lambda a: (a.published or "~", a.url))
        paths = self.writer.write(
            (asdict(a) for a in ordered),
            clusters,
            {"options": asdict(self.options), "signature": self.options.signature_parameters()},
        )
        relations: list[str | None] = [a.relation for a in ordered]
        self.stats.set_value("news/grouping/articles", len(ordered))
        self.stats.set_value("news/grouping/clusters", len(clusters))
        self.stats.set_value("news/grouping/duplicates", relations.count("duplicate"))
        self.stats.set_value("news/grouping/rewrites", relations.count("rewrite"))
        self.stats.set_value("news/grouping/seconds", round(seconds, 4))
        logger.info(
            "Grouped %(n)d articles into %(c)d clusters in %(s).3f s; wrote %(paths)s",
            {
                "n": len(ordered),
                "c": len(clusters),
                "s": seconds,
                "paths": ", ".join(str(p) for p in paths),
            },
        )

    def _group(self) -> list[dict[str, Any]]:
        """Cluster summaries, the articles' grouping fields set. If grouping fails, the articles
        are still written, ungrouped: nothing the crawl collected is lost."""
        try:
            grouper = group_batch(
                ((url, asdict(a)) for url, a in self.articles.items()), self.options
            )
            for url, assignment in grouper.assignments().items():
                article = self.articles[url]
                article.cluster_id = assignment.cluster_id
                article.relation = assignment.relation
                article.similarity = assignment.similarity
            return grouper.clusters()
        except Exception:
            self.stats.inc_value("news/grouping/failed")
            logger.exception("Grouping failed; the articles are written without clusters")
            return []
