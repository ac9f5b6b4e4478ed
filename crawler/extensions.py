"""Extensions: the summary a person reads at the end of a run.

Scrapy's stats dump has everything but is long; this prints the few numbers that say how the run
went: pages fetched, articles new or changed and in the feed, clusters, pages skipped by reason,
time taken. It goes to stderr, so
`-o -` can still stream the feed on stdout. With NEWS_STATS_FILE set, the full stats are also
written there as JSON, for monitoring a scheduled crawl (and for tests).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

# stats key prefix -> label prefix for skip reasons
_SKIP_SOURCES = (
    ("news/skipped/", ""),
    ("httperror/response_ignored_status_count/", "HTTP "),
)
_SKIP_SINGLE = {
    "offline/missing": "not saved (offline)",
    "robotstxt/forbidden": "forbidden by robots.txt",
    "offsite/filtered": "offsite link",
}


def skipped_by_reason(stats: dict[str, Any]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for key, value in stats.items():
        for prefix, label in _SKIP_SOURCES:
            if key.startswith(prefix):
                reasons[label + key[len(prefix) :]] = int(value)
        if key in _SKIP_SINGLE:
            reasons[_SKIP_SINGLE[key]] = int(value)
    return dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def format_summary(stats: dict[str, Any], title: str) -> str:
    reasons = skipped_by_reason(stats)
    rows = [
        ("pages fetched", stats.get("downloader/response_count", 0)),
        ("listing pages read", stats.get("news/pages/listing", 0)),
        ("articles new or changed", stats.get("news/delta/articles", 0)),
        ("articles in the feed", stats.get("news/grouping/articles", 0)),
        ("syndication clusters", stats.get("news/grouping/clusters", 0)),
        ("  rewrites", stats.get("news/grouping/rewrites", 0)),
        ("  duplicates", stats.get("news/grouping/duplicates", 0)),
        ("pages skipped", sum(reasons.values())),
    ]
    rows += [(f"  {reason}", count) for reason, count in reasons.items()]
    rows.append(("time taken", f"{stats.get('elapsed_time_seconds', 0.0):.1f} s"))
    width = max(len(label) for label, _ in rows)
    lines = [title] + [f"  {label.ljust(width)}  {value:>6}" for label, value in rows]
    return "\n".join(lines)


class RunSummary:
    def __init__(self, crawler: Crawler, out: TextIO | None = None):
        self.crawler = crawler
        self.out = out
        self._title: str | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunSummary:
        if not crawler.settings.getbool("NEWS_SUMMARY_ENABLED"):
            raise NotConfigured
        return cls(crawler)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self._title = f"Run summary: spider {spider.name!r}, {reason}"

    def engine_stopped(self) -> None:
        # Printed after Scrapy's closing log lines (and after CoreStats has set the elapsed
        # time), so it is the last thing a person sees.
        if self._title is None or self.crawler.stats is None:
            return
        stats = self.crawler.stats.get_stats()
        settings = self.crawler.settings
        output = [f"{settings['NEWS_OUTPUT_DIR']}/{{articles,clusters}}.jsonl"]
        output += list(settings.getdict("FEEDS"))
        out = self.out or sys.stderr
        print(f"\n{format_summary(stats, self._title)}\n  output: {', '.join(output)}\n", file=out)
        stats_file = self.crawler.settings.get("NEWS_STATS_FILE")
        if stats_file:
            path = Path(stats_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stats, indent=1, sort_keys=True, default=str), "utf-8")


class StateExtension:
    """Owns the crawl state for a run (crawler.state.StateStore, in NEWS_STATE_DIR): the lock,
    the run record, and the buffer of fetch records (written every 100 and when the spider
    closes). `StatePipeline.open_spider` begins the run; other components reach the store with
    `crawler.get_extension(StateExtension)`."""

    FLUSH_EVERY = 100

    def __init__(self, crawler: Crawler):
        from crawler.state import StateStore  # sqlite3 and fcntl only where state is used

        settings = crawler.settings
        self.store = StateStore(settings["NEWS_STATE_DIR"])
        self.reset = settings.getbool("NEWS_STATE_RESET")
        self.kill_at: str | None = settings.get("NEWS_FAULT_KILL_AT")
        self.run_id: str | None = None
        self._fetches: list[tuple[str, int, str | None, str | None, str | None, str]] = []
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StateExtension:
        return cls(crawler)

    def begin(self) -> str:
        """Take the lock (StateLocked if another run holds it) and record the run."""
        self.store.acquire()
        if self.reset:
            self.store.reset()
        self.run_id = self.store.start_run()
        return self.run_id

    def record_fetch(
        self,
        url: str,
        status: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        fetched_at: str,
    ) -> None:
        if self.run_id is None:
            return
        self._fetches.append((url, status, etag, last_modified, body_hash, fetched_at))
        if len(self._fetches) >= self.FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self._fetches:
            self.store.record_fetches(self._fetches)
            self._fetches = []

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is not None:
            self.flush()
            self.store.finish_run(self.run_id, reason)
        self.store.close()
