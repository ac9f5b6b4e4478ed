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

from crawler import outlets

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler


def counts(stats: dict[str, Any], prefix: str) -> dict[str, int]:
    """{rest of key: value} of the stats under `prefix`, largest first."""
    found = {k[len(prefix) :]: int(v) for k, v in stats.items() if k.startswith(prefix)}
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def outlet_stat(url: str, what: str) -> str:
    """The per-outlet stats key of `what` for the outlet that owns `url` ("other" if none)."""
    return f"news/outlet/{outlets.name_for(url)}/{what}"


def format_summary(stats: dict[str, Any], title: str) -> str:
    skipped, errors = counts(stats, "news/skipped/"), counts(stats, "news/errors/")
    rows: list[tuple[str, Any]] = [
        ("pages fetched", stats.get("downloader/response_count", 0)),
        ("listing pages read", stats.get("news/pages/listing", 0)),
        ("articles new or changed", stats.get("news/delta/articles", 0)),
        ("articles in the feed", stats.get("news/grouping/articles", 0)),
        ("syndication clusters", stats.get("news/grouping/clusters", 0)),
        ("  rewrites", stats.get("news/grouping/rewrites", 0)),
        ("  duplicates", stats.get("news/grouping/duplicates", 0)),
        ("pages skipped", sum(skipped.values())),
    ]
    rows += [(f"  {reason}", count) for reason, count in skipped.items()]
    rows.append(("errors", sum(errors.values())))
    rows += [(f"  {kind}", count) for kind, count in errors.items()]
    rows.append(("retries", stats.get("retry/count", 0)))
    rows.append(("time taken", f"{stats.get('elapsed_time_seconds', 0.0):.1f} s"))
    width = max(len(label) for label, _ in rows)
    lines = [title] + [f"  {label.ljust(width)}  {value:>6}" for label, value in rows]
    names = sorted({k.split("/")[2] for k in stats if k.startswith("news/outlet/")})
    if names:
        lines.append("  by outlet:")
        lines += [f"    {outlet_line(stats, name)}" for name in names]
    return "\n".join(lines)


def outlet_line(stats: dict[str, Any], outlet: str) -> str:
    """One outlet's run in one line: pages fetched, articles found and exported, pages skipped
    by reason, errors by kind, retries."""
    p = f"news/outlet/{outlet}/"
    parts = [
        f"fetched {stats.get(p + 'fetched', 0)}, articles found {stats.get(p + 'extracted', 0)},"
        f" exported {stats.get(p + 'exported', 0)}"
    ]
    for heading in ("skipped", "errors"):
        found = counts(stats, f"{p}{heading}/")
        if found:
            parts.append(f"{heading}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    parts.append(f"retries {stats.get(p + 'retries', 0)}")
    return f"{outlet}: " + "; ".join(parts)


class RunSummary:
    def __init__(self, crawler: Crawler, out: TextIO | None = None):
        self.crawler = crawler
        self.out = out
        self._title: str | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)

    # per-outlet counters: news/outlet/<outlet>/...
    def response_received(self, response: Any, request: Any) -> None:
        self._count(response.url, "fetched")

    def item_scraped(self, item: Any) -> None:
        self._count(getattr(item, "url", ""), "exported")

    def item_dropped(self, item: Any, exception: BaseException) -> None:
        reason = str(exception).split(" ", 1)[0] or "dropped"
        self._count(getattr(item, "url", ""), f"skipped/{reason}")

    def _count(self, url: str, what: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(outlet_stat(url, what))

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
