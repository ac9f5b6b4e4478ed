"""`scrapy crawl`, with an exit code a scheduler can act on.

Scrapy exits with 0 when a spider closes early for any reason. A scheduled run that finds the
state held by another run closes at once (reason `state_locked`); this command then exits with
75 (EX_TEMPFAIL: try again later), so cron wrappers and scrapyd see that nothing was done.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

EXIT_STATE_LOCKED = 75


class Command(ScrapyCrawlCommand):
    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._crawler = crawler
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        crawler = getattr(self, "_crawler", None)
        stats = crawler.stats if crawler is not None else None
        if stats is not None and stats.get_value("finish_reason") == "state_locked":
            self.exitcode = EXIT_STATE_LOCKED
