"""Extensions: the summary a person reads at the end of a run.

Scrapy's stats dump has everything but is long; this prints the few numbers that say how the run
went: pages fetched, articles new or changed and in the feed, clusters, pages skipped by reason,
time taken. It goes to stderr, so
`-o -` can still stream the feed on stdout. With NEWS_STATS_FILE set, the full stats are also
written there as JSON, for monitoring a scheduled crawl (and for tests).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler import outlets
from crawler import signals as news_signals
from crawler.failures import TRANSIENT_DROPS
from crawler.state import RetryOp, open_state

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

logger = logging.getLogger(__name__)


# set (to the error) when the run's snapshot or delta could not be written
OUTPUT_FAILED = "news/output/failed"


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
    rows.append(("retry list", stats.get("news/retry_list/size", 0)))
    for what, label in (
        ("requeued", "tried again"),
        ("failed", "failed this run"),
        ("given_up", "given up"),
    ):
        if stats.get(f"news/retry_list/{what}"):
            rows.append((f"  {label}", stats[f"news/retry_list/{what}"]))
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
        reason = getattr(exception, "reason", None) or str(exception).split(" ", 1)[0] or "dropped"
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
        failed = self.crawler.stats.get_value(OUTPUT_FAILED) if self.crawler.stats else None
        if failed:
            self._title += " - FAILED: the feeds could not be written"

    def engine_stopped(self) -> None:
        # Printed after Scrapy's closing log lines (and after CoreStats has set the elapsed
        # time), so it is the last thing a person sees.
        if self._title is None or self.crawler.stats is None:
            return
        stats = self.crawler.stats.get_stats()
        settings = self.crawler.settings
        output = [f"{settings['NEWS_OUTPUT_DIR']}/{{articles,clusters}}.jsonl"]
        if stats.get(OUTPUT_FAILED):
            output = [f"NOT written to {output[0]} ({stats[OUTPUT_FAILED]})"]
        output += list(settings.getdict("FEEDS"))
        title = self._title
        if not settings.getbool("NEWS_OFFLINE") and not settings.getbool(
            "DOWNLOAD_VERIFY_CERTIFICATES"
        ):
            title += "\n  TLS certificates NOT verified: DOWNLOAD_VERIFY_CERTIFICATES is off"
        out = self.out or sys.stderr
        print(f"\n{format_summary(stats, title)}\n  output: {', '.join(output)}\n", file=out)
        stats_file = self.crawler.settings.get("NEWS_STATS_FILE")
        if stats_file:
            path = Path(stats_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stats, indent=1, sort_keys=True, default=str), "utf-8")


class StateExtension:
    """Owns the crawl state for a run (crawler.state.StateStore, in NEWS_STATE_DIR): the lock,
    the run record, the retry list, and the buffer of fetch records and retry-list changes
    (written every NEWS_STATE_FLUSH_EVERY and when the spider closes, in one transaction).
    `StatePipeline.open_spider` begins the run; other components reach the store with
    `crawler.get_extension(StateExtension)`.

    The retry list follows `crawler.signals`: a page the spider discovers is listed until it
    comes to an end (stored, unchanged, not an article, HTTP 404...), so the pages a killed run
    had not reached are requested by the next run; a page that failed for a passing reason
    stays listed with a backoff (NEWS_RETRY_LIST_BACKOFF seconds, doubled at each failed run)
    and is given up after NEWS_RETRY_LIST_RUNS failed runs, with one line and a counter."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.reset = settings.getbool("NEWS_STATE_RESET")
        self.store = open_state(settings["NEWS_STATE_DIR"], reset=self.reset)
        self.kill_at: str | None = settings.get("NEWS_FAULT_KILL_AT")
        self.flush_every = settings.getint("NEWS_STATE_FLUSH_EVERY")
        self.retry_backoff = settings.getfloat("NEWS_RETRY_LIST_BACKOFF")
        self.retry_runs = settings.getint("NEWS_RETRY_LIST_RUNS")
        self.run_id: str | None = None
        self.stats = crawler.stats
        self._fetches: list[tuple[str, int, str | None, str | None, str | None, str]] = []
        self._ops: list[RetryOp] = []
        self._seen: set[str] = set()  # listed or ended in this run
        for handler, signal in (
            (self.spider_opened, signals.spider_opened),
            (self.spider_closed, signals.spider_closed),
            (self.item_scraped, signals.item_scraped),
            (self.item_dropped, signals.item_dropped),
            (self.request_dropped, signals.request_dropped),
            (self.page_discovered, news_signals.page_discovered),
            (self.page_done, news_signals.page_done),
            (self.page_failed, news_signals.page_failed),
            (self.page_parsed, news_signals.page_parsed),
        ):
            crawler.signals.connect(handler, signal=signal)

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

    def spider_opened(self, spider: Spider) -> None:
        if self.run_id is None:
            return
        due = self.store.due_retries()
        if due:
            self._inc("news/retry_list/requeued", len(due))
            logger.info("Requesting %(n)d page(s) of the retry list first", {"n": len(due)})
        spider.revisit = due  # type: ignore[attr-defined]
        self._seen.update(url for url, _ in due)

    # -- what became of each page ----------------------------------------------------------------

    def page_discovered(self, url: str, kind: str, outlet: str | None) -> None:
        if url not in self._seen:
            self._seen.add(url)
            self._change(RetryOp("seen", url, kind, outlet))

    def page_done(self, request: Request) -> None:
        """The request came to an end: every URL of its redirect chain is off the list."""
        for url in _chain(request):
            self._end(url)

    def page_failed(self, request: Request, reason: str) -> None:
        """A passing failure: the URL first asked for stays listed (its redirects lead to the
        others again)."""
        origin, *others = _chain(request)
        self._seen.add(origin)
        self._inc("news/retry_list/failed")
        kind = request.meta.get("news_kind", "article")
        self._change(RetryOp("failed", origin, kind, outlets.name_for(origin), reason))
        for url in others:
            self._end(url)

    def _end(self, url: str) -> None:
        self._seen.add(url)
        self._change(RetryOp("done", url))

    def page_parsed(self, response: Response) -> None:
        """A sitemap, feed or listing read to its end: its links are listed before its own
        fetch record is kept, so a run killed in between reads it again."""
        record = response.meta.get("news_fetch")
        if record is not None:
            self.record_fetch(*record)
        if response.request is not None:
            self.page_done(response.request)

    def item_scraped(self, item: Any, response: Response | None = None) -> None:
        if response is not None and response.request is not None:
            self.page_done(response.request)

    def item_dropped(
        self, item: Any, exception: BaseException, response: Response | None = None
    ) -> None:
        if response is None or response.request is None:
            return
        if getattr(exception, "reason", "") in TRANSIENT_DROPS:
            self.page_failed(response.request, exception.reason)  # type: ignore[attr-defined]
        else:
            self.page_done(response.request)

    def request_dropped(self, request: Request) -> None:
        """A redirect to a page another request already fetches (the scheduler's duplicate
        filter drops it): the redirected page's journey ends there. A plain duplicate is left
        alone: the request it duplicates ends the page's journey."""
        for url in request.meta.get("redirect_urls", ()):
            if url != request.url:  # the target's own request ends its journey
                self._end(url)

    # -- the buffer --------------------------------------------------------------------------------

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
        self._maybe_flush()

    def _change(self, op: RetryOp) -> None:
        if self.run_id is None:
            return
        self._ops.append(op)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self._fetches) + len(self._ops) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if not (self._fetches or self._ops):
            return
        given_up = self.store.update_retries(
            self._ops, self._fetches, backoff=self.retry_backoff, max_runs=self.retry_runs
        )
        self._fetches, self._ops = [], []
        for url, reason, attempts in given_up:
            self._inc("news/retry_list/given_up")
            logger.warning(
                "Gave up %(url)s: it failed in %(n)d runs (last: %(reason)s)",
                {"url": url, "n": attempts, "reason": reason},
            )

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is not None:
            self.flush()
            if self.stats is not None:
                self.stats.set_value("news/retry_list/size", self.store.retry_list_size())
                if self.stats.get_value(OUTPUT_FAILED):
                    reason = "output_failed"
            self.store.finish_run(self.run_id, reason)
        self.store.close()

    def _inc(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, n)


def _chain(request: Request) -> list[str]:
    """The URLs a request went through: the one first asked for, then each redirect's."""
    urls = [*request.meta.get("redirect_urls", ()), request.url]
    return list(dict.fromkeys(urls))
