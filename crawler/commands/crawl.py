"""`scrapy crawl`, with an exit code a scheduler can act on.

Scrapy exits with 0 when a spider closes early for any reason. A scheduled run that finds the
state held by another run closes at once (reason `state_locked`); this command then exits with
75 (EX_TEMPFAIL: try again later), so cron wrappers and scrapyd see that nothing was done. A run
whose snapshot or delta could not be written (disk full, permission denied) exits with 74
(EX_IOERR). A damaged state database stops the run before it starts, with one line naming
the file and what to do, and exit 65 (EX_DATAERR). A run stopped by Ctrl-C or SIGTERM (Scrapy's
graceful `shutdown`) exits with 130: what it stored is kept, its unreached pages stay on the
retry list. `-s NEWS_STATE_RESET=1` with a spider that
crawls only some outlets is refused (exit 2) when the snapshot holds articles of the others:
the snapshot is written from the state, so they would leave it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler import outlets
from crawler.extensions import OUTPUT_FAILED
from crawler.state import StateCorrupt, StateLocked, open_state

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

EXIT_STATE_LOCKED = 75
EXIT_OUTPUT_FAILED = 74  # EX_IOERR: the snapshot or the delta could not be written
EXIT_STATE_CORRUPT = 65  # EX_DATAERR: the state database is damaged; nothing was done
EXIT_REFUSED = 2  # a usage error: the run would have destroyed data; nothing was done
EXIT_INTERRUPTED = 130  # stopped by a signal (Ctrl-C): what it did is kept, the rest is not done


class Command(ScrapyCrawlCommand):
    def _state_usable(self) -> bool:
        """Before Scrapy starts, one clear line and an exit code -- not a traceback from the
        engine -- when the state is damaged or another run holds it. (The run takes the lock
        itself when it begins; a run that starts in between still finds it held then.)"""
        assert self.settings is not None
        directory = self.settings["NEWS_STATE_DIR"]
        if self.settings.getbool("NEWS_STATE_RESET"):
            return True  # a damaged file is set aside by the run
        try:
            store = open_state(directory)
        except StateCorrupt as error:
            print(f"scrapy crawl: {error}", file=sys.stderr)
            self.exitcode = EXIT_STATE_CORRUPT
            return False
        try:
            store.acquire()
        except StateLocked as error:
            logger.error("%(error)s", {"error": error})
            self.exitcode = EXIT_STATE_LOCKED
            return False
        finally:
            store.close()
        return True

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._crawler = crawler
        return crawler

    def _reset_keeps_the_snapshot(self, spider: str) -> bool:
        """False, after one line, when NEWS_STATE_RESET would make the snapshot lose the
        articles of outlets that `spider` does not crawl (the snapshot is the state's
        articles: a reset state holds only what this run finds)."""
        assert self.settings is not None
        if not self.settings.getbool("NEWS_STATE_RESET"):
            return True
        try:
            assert self.crawler_process is not None
            spidercls = self.crawler_process.spider_loader.load(spider)
        except KeyError:
            return True  # Scrapy reports an unknown spider itself
        crawled = {o.name for o in getattr(spidercls, "outlets", ())}
        if crawled >= {o.name for o in outlets.OUTLETS}:
            return True
        snapshot = Path(self.settings["NEWS_OUTPUT_DIR"], "articles.jsonl")
        others = Counter(o for o in _outlets_in(snapshot) if o not in crawled)
        if not others:
            return True
        names = ", ".join(f"{name} ({n})" for name, n in sorted(others.items()))
        print(
            f"scrapy crawl: refused: NEWS_STATE_RESET=1 starts the state again, and {snapshot}"
            f" would then hold only what {spider!r} finds: {sum(others.values())} articles of"
            f" other outlets would leave it ({names}). Reset with `scrapy crawl all`, or give"
            " this spider its own NEWS_STATE_DIR and NEWS_OUTPUT_DIR.",
            file=sys.stderr,
        )
        self.exitcode = EXIT_REFUSED
        return False

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if args and not self._reset_keeps_the_snapshot(args[0]):
            return
        if not self._state_usable():
            return
        super().run(args, opts)
        crawler = getattr(self, "_crawler", None)
        stats = crawler.stats if crawler is not None else None
        if stats is None:
            return
        if stats.get_value("finish_reason") == "state_locked":
            self.exitcode = EXIT_STATE_LOCKED
        elif stats.get_value(OUTPUT_FAILED):
            self.exitcode = EXIT_OUTPUT_FAILED
        elif stats.get_value("finish_reason") == "shutdown":
            self.exitcode = EXIT_INTERRUPTED  # Ctrl-C or SIGTERM: the run did not finish


def _outlets_in(snapshot: Path) -> list[str]:
    """The outlet of each article in a snapshot file ([] when there is none); a line that does
    not parse is skipped (the snapshot is written by the run, whole)."""
    if not snapshot.is_file():
        return []
    found = []
    with snapshot.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                article = json.loads(line)
            except ValueError:
                continue
            if isinstance(article, dict):
                found.append(article.get("outlet") or outlets.name_for(str(article.get("url"))))
    return found
