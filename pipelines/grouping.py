"""Item pipeline: when a run ends, group what it stored and write the feeds.

Three steps, each of which the next run redoes if this one dies before finishing it:

1. Group. Every stored article not yet grouped (this run's, and any a killed run left) is added,
   oldest first, to the grouping index restored from the state — the last NEWS_STATE_INDEX_DAYS
   of versions, so that a new version of yesterday's report joins yesterday's cluster under the
   same id. A changed article keeps its cluster. The grouping fields of every article the index
   holds are written back, with the index, in one transaction.
2. Snapshot. `articles.jsonl` and `clusters.jsonl` in NEWS_OUTPUT_DIR are rewritten from the
   whole state, each replaced atomically.
3. Delta. Every change no delta has published yet goes to `runs/<run id>/` (articles and the
   clusters they belong to), written to a temporary folder and renamed into place.

The logic is in plain classes (`pipelines.group`, `pipelines.export`, `crawler.state`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crawler.extensions import StateExtension
from crawler.state import GROUPING_FIELDS, StateStore, kill_if, publication_order
from pipelines.export import SnapshotWriter
from pipelines.group.options import GroupOptions
from pipelines.group.published import PublishedAt
from pipelines.group.summaries import cluster_summaries
from pipelines.group.verify import Verifier

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
        duplicate_containment=settings.getfloat("NEWS_GROUP_DUPLICATE_CONTAINMENT"),
        verifier=settings.get("NEWS_GROUP_VERIFIER"),
    )


class GroupingPipeline:
    def __init__(
        self,
        state: StateExtension,
        stats: StatsCollector,
        options: GroupOptions,
        out_dir: str,
        index_days: float,
        workers: int = 1,
    ):
        self.state = state
        self.workers = workers
        self.stats = stats
        self.options = options
        self.verifier = Verifier.load(options.verifier)  # a bad coefficients file fails here
        self.writer = SnapshotWriter(out_dir)
        self.index_days = index_days

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GroupingPipeline:
        state = crawler.get_extension(StateExtension)
        if state is None:
            raise RuntimeError("GroupingPipeline needs crawler.extensions.StateExtension enabled")
        assert crawler.stats is not None
        settings = crawler.settings
        return cls(
            state,
            crawler.stats,
            group_options_from_settings(settings),
            settings["NEWS_OUTPUT_DIR"],
            settings.getfloat("NEWS_STATE_INDEX_DAYS"),
            max(1, settings.getint("NEWS_GROUP_WORKERS")),
        )

    def process_item(self, item: Any) -> Any:
        return item

    def close_spider(self) -> None:
        run_id = self.state.run_id
        if run_id is None:  # the run never began (another run held the state)
            return
        store = self.state.store
        started = time.perf_counter()
        try:
            grouped = self._group(store)
        except Exception:  # the articles stay stored, ungrouped: the next run groups them
            self.stats.inc_value("news/grouping/failed")
            logger.exception("Grouping failed; the stored articles wait for the next run")
            grouped = 0
        self.stats.set_value("news/grouping/seconds", round(time.perf_counter() - started, 4))
        kill_if(self.state.kill_at, "grouped")

        rows = store.grouping_rows()
        clusters = cluster_summaries(rows)
        try:
            paths, changed, delta = self._write(store, run_id, clusters)
        except OSError as error:
            # Disk full, permission denied...: the previous snapshot is intact (files are
            # replaced whole), the changes stay unpublished, and the next run writes them.
            message = f"{type(error).__name__}: {error}"
            self.stats.set_value("news/output/failed", message)
            logger.error(
                "Could not write the feeds to %(dir)s (%(error)s); the previous snapshot is"
                " kept, and the next run writes this run's changes",
                {"dir": self.writer.out_dir, "error": message},
            )
            return
        relations = [a.get("relation") for a in rows]
        self.stats.set_value("news/grouping/articles", len(rows))
        self.stats.set_value("news/grouping/clusters", len(clusters))
        self.stats.set_value("news/grouping/duplicates", relations.count("duplicate"))
        self.stats.set_value("news/grouping/rewrites", relations.count("rewrite"))
        self.stats.set_value("news/delta/articles", len(changed))
        logger.info(
            "Grouped %(g)d articles; %(n)d articles in %(c)d clusters written to %(paths)s;"
            " %(d)d new or changed in %(delta)s",
            {
                "g": grouped,
                "n": len(rows),
                "c": len(clusters),
                "d": len(changed),
                "paths": ", ".join(str(p) for p in paths),
                "delta": delta,
            },
        )

    def _write(
        self, store: StateStore, run_id: str, clusters: list[dict[str, Any]]
    ) -> tuple[list[Path], list[dict[str, Any]], Path]:
        """The snapshot, then the delta of every change no delta has published yet."""
        paths = self.writer.write(
            store.feed(),
            clusters,
            {
                "options": asdict(self.options),
                "signature": self.options.signature_parameters(),
                "verifier": self.verifier.parameters(),
            },
        )
        kill_if(self.state.kill_at, "snapshot")
        changed = store.articles(store.claim_pending(run_id))
        touched = {a.get("cluster_id") for a in changed}
        delta = self.writer.write_delta(
            run_id,
            sorted(changed, key=lambda a: (publication_order(a.get("published")), a["url"])),
            [c for c in clusters if c["id"] in touched],
        )
        kill_if(self.state.kill_at, "delta")
        store.delta_written(run_id)
        return paths, changed, delta

    def _group(self, store: StateStore) -> int:
        pending = store.ungrouped()
        if not pending:
            return 0
        # Imported here: word lists, stemmers and MinHash take about a second to import, which
        # a run with nothing new to group does not pay.
        from pipelines.group.grouper import Grouper
        from pipelines.group.parallel import add_all

        grouper = Grouper(self.options, self.verifier)
        stored = json.loads(store.meta("signature") or "{}")
        current = self.options.signature_parameters()
        if stored.get("term_hash", current["term_hash"]) != current["term_hash"]:
            # Terms hashed another way cannot be compared with today's: start a new index
            # (stored articles keep their clusters; new versions cannot join them).
            logger.warning(
                "The stored grouping index hashes terms as %(old)s, not %(new)s; not restored",
                {"old": stored["term_hash"], "new": current["term_hash"]},
            )
        else:
            grouper.restore(store.versions(since=self._index_start(pending)))
        new = [
            (a["url"], a) for a in pending if a["url"] not in grouper and not a.get("cluster_id")
        ]
        new.sort(key=lambda kr: (PublishedAt.of(kr[1]).sort_key(), kr[0]))
        # a large run's new articles are described in worker processes ahead of the indexing
        add_all(grouper, new, self.workers)
        assignments, sources = grouper.assignments(), grouper.cited_sources()
        pending_urls = {a["url"] for a in pending}
        stored = store.articles(assignments)
        # An article grouped before keeps its fields (a similarity recomputed against a new
        # original is not news) unless its cluster or relation changes; when a cluster's original
        # changes, all its members change with it.
        reshuffled = {
            assignments[a["url"]].cluster_id
            for a in stored
            if a["url"] not in pending_urls
            and (a.get("cluster_id"), a.get("relation"))
            != (assignments[a["url"]].cluster_id, assignments[a["url"]].relation)
        }
        updates = []
        for article in stored:
            assignment = assignments[article["url"]]
            if article["url"] in pending_urls or assignment.cluster_id in reshuffled:
                article.update(
                    zip(
                        GROUPING_FIELDS,
                        (assignment.cluster_id, assignment.relation, assignment.similarity),
                        strict=True,
                    )
                )
            article["cited_source"] = sources[article["url"]]
            updates.append(article)
        # changed articles outside the index keep their stored cluster
        updates += store.articles(a["url"] for a in pending if a["url"] not in assignments)
        store.save_grouping(updates, grouper.dump(), self.options.signature_parameters())
        return len(new)

    def _index_start(self, pending: list[dict[str, Any]]) -> str | None:
        """Versions published since this time are restored: NEWS_STATE_INDEX_DAYS before the
        newest article to group (publication time, not the clock, so replays of old pages
        group as they would have on the day)."""
        times = [PublishedAt.parse(a.get("published")).at for a in pending]
        newest = max((t for t in times if t is not None), default=None)
        if newest is None:
            return None
        return (newest - timedelta(days=self.index_days)).date().isoformat()
