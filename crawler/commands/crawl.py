"""`scrapy crawl`, with an exit code a scheduler can act on.

Scrapy exits with 0 when a spider closes early for any reason. A scheduled run that finds the
state held by another run closes at once (reason `state_locked`); this command then exits with
75 (EX_TEMPFAIL: try again later), so cron wrappers and scrapyd see that nothing was done. A run
whose snapshot or delta could not be written (disk full, permission denied) exits with 74
(EX_IOERR). A damaged state database stops the run before it starts, with one line naming
the file and what to do, and exit 65 (EX_DATAERR).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler.extensions import OUTPUT_FAILED
from crawler.state import StateCorrupt, StateLocked, open_state

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

EXIT_STATE_LOCKED = 75
EXIT_OUTPUT_FAILED = 74  # EX_IOERR: the snapshot or the delta could not be written
EXIT_STATE_CORRUPT = 65  # EX_DATAERR: the state database is damaged; nothing was done


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

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
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
