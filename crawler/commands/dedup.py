"""`scrapy dedup IN.jsonl -o OUT.jsonl [--clusters CLUSTERS.jsonl]`: group an existing feed.

Every usable line of IN is written to OUT with `cluster_id`, `relation` and `similarity` added
(OUT may be IN); `--clusters` also writes one line per cluster. The grouping options are the
project's NEWS_GROUP_* settings (`-s NAME=VALUE` to change one). See pipelines/group/feed.py.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.utils.log import configure_logging

from pipelines.export import UnsafeOutput, check_outputs


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "IN.jsonl -o OUT.jsonl [--clusters CLUSTERS.jsonl]"

    def short_desc(self) -> str:
        return "Group the articles of a JSONL feed into syndication clusters"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", metavar="FILE", required=True)
        parser.add_argument("--clusters", metavar="FILE", help="also write one line per cluster")
        parser.add_argument(
            "--progress",
            choices=("auto", "on", "off"),
            default="auto",
            help="progress bar (auto: for inputs from 1 MiB, on a terminal)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            help="processes describing articles ahead of the grouping (NEWS_GROUP_WORKERS)",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if len(args) != 1:
            raise UsageError("give exactly one input file")
        source = Path(args[0])
        if not source.is_file():
            raise UsageError(f"{source} is not a file")
        outputs = {"-o": opts.output} | ({"--clusters": opts.clusters} if opts.clusters else {})
        try:  # -o may be the input: it is written atomically once the input has been read
            check_outputs(outputs, [source], may_replace={"-o"})
        except UnsafeOutput as error:
            print(f"scrapy dedup: refused: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        configure_logging(self.settings)
        started = time.monotonic()
        # imported here: Scrapy imports every command module to list them, and grouping's
        # imports (datasketch, scipy, wordfreq) are a second of every other command's start-up
        from pipelines.group.feed import FeedGrouping
        from pipelines.grouping import group_options_from_settings

        workers = opts.workers
        if workers is None:
            workers = self.settings.getint("NEWS_GROUP_WORKERS")
        if workers < 1:
            raise UsageError(f"--workers must be at least 1, not {workers}")
        grouping = FeedGrouping(group_options_from_settings(self.settings), opts.progress, workers)
        try:
            counts = grouping.run(
                source, Path(opts.output), Path(opts.clusters) if opts.clusters else None
            )
        except (OSError, EOFError, zlib.error) as error:  # unreadable, corrupt gzip, disk full
            print(f"scrapy dedup: cannot group {source}: {error}", file=sys.stderr)
            self.exitcode = 1
            return
        lines = [
            "Grouping summary",
            f"  lines read            {counts.lines:>7}",
            f"  articles grouped      {counts.grouped:>7}  -> {opts.output}",
            f"  clusters              {counts.clusters:>7}"
            + (f"  -> {opts.clusters}" if opts.clusters else ""),
            f"    rewrites            {counts.relations['rewrite']:>7}",
            f"    duplicates          {counts.relations['duplicate']:>7}",
            f"  lines skipped         {sum(counts.skipped.values()):>7}",
            *(f"    {reason:<19} {n:>7}" for reason, n in sorted(counts.skipped.items())),
            f"  time taken            {time.monotonic() - started:>7.1f} s",
        ]
        print("\n" + "\n".join(lines) + "\n", file=sys.stderr)
        self.exitcode = 0 if counts.grouped else 1
