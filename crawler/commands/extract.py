"""`scrapy extract PATH... -o FILE.jsonl`: the crawl's extraction on saved HTML files, no crawl.

Inputs are files or folders (searched recursively) of `.html`, `.htm` and their `.gz` forms, such
as a browser's "Save page as" files. Each article becomes one JSON line with the feed's fields plus
`source`, the input path. A file that cannot be read or yields no article gets one log line naming
it and the reason; the others are still processed. Every file is bounded: bytes read (also after
decompression), characters parsed, seconds and memory spent (see `pipelines.extract.bounded`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import stat
import sys
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import IO

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from scrapy.utils.log import configure_logging

from crawler import outlets
from crawler.encoding import decode_html
from crawler.items import ARTICLE_FIELDS
from crawler.urls import canonical_link
from pipelines.export import UnsafeOutput, check_outputs, printable
from pipelines.extract.bounded import BoundedExtractor
from pipelines.extract.core import Outcome
from pipelines.extraction import options_from_settings

logger = logging.getLogger(__name__)

SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
_BINARY_MAGIC = {
    b"%PDF-": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PK\x03\x04": "a ZIP archive",
    b"\x1f\x8b": "gzip data",
}


class SkipFile(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason} ({detail})")
        self.reason = reason
        self.detail = detail


class Command(ScrapyCommand):
    requires_project = True
    requires_crawler_process = False

    def syntax(self) -> str:
        return "PATH [PATH ...] -o FILE.jsonl"

    def short_desc(self) -> str:
        return "Extract articles from saved HTML files or folders, without crawling"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o", "--output", metavar="FILE", required=True, help="JSON lines file to write"
        )
        parser.add_argument("--timeout", type=float, help="seconds per page (NEWS_EXTRACT_TIMEOUT)")
        parser.add_argument(
            "--max-bytes", type=int, help="bytes read per file (NEWS_EXTRACT_MAX_BYTES)"
        )
        parser.add_argument("--workers", type=int, help="extraction processes")

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        for option, setting in (
            ("timeout", "NEWS_EXTRACT_TIMEOUT"),
            ("max_bytes", "NEWS_EXTRACT_MAX_BYTES"),
            ("workers", "NEWS_EXTRACT_WORKERS"),
        ):
            if getattr(opts, option) is not None:
                self.settings.set(setting, getattr(opts, option), priority="cmdline")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if not args:
            raise UsageError("give at least one file or folder to extract from")
        try:
            check_outputs({"-o": opts.output}, args, input_suffixes=SUFFIXES)
        except UnsafeOutput as error:
            print(f"scrapy extract: refused: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        configure_logging(self.settings)
        options, limits = options_from_settings(self.settings)
        max_bytes = self.settings.getint("NEWS_EXTRACT_MAX_BYTES")
        started = time.monotonic()
        counts: Counter[str] = Counter()
        output = Path(opts.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        interrupted = False
        try:
            with (
                BoundedExtractor(options, limits) as runner,
                output.open("w", encoding="utf-8") as out,
            ):
                batch = BatchExtraction(runner, max_bytes, out, counts)
                batch.run(_input_files(args, counts))
        except KeyboardInterrupt:  # Ctrl-C: the workers are stopped, the lines written stay
            interrupted = True
        _print_summary(counts, output, time.monotonic() - started, interrupted)
        self.exitcode = 130 if interrupted else 0 if counts["articles"] else 1


class BatchExtraction:
    """Reads files, extracts them in the worker pool (a few in flight), writes in input order."""

    def __init__(
        self, runner: BoundedExtractor, max_bytes: int, out: IO[str], counts: Counter[str]
    ):
        self.runner = runner
        self.max_bytes = max_bytes
        self.out = out
        self.counts = counts

    def run(self, files: Iterator[Path]) -> None:
        window: deque[tuple[Path, Future[Outcome] | SkipFile]] = deque()
        in_flight = self.runner.limits.workers * 2
        for path in files:
            window.append((path, self._submit(path)))
            while len(window) >= in_flight:
                self._finish(*window.popleft())
        while window:
            self._finish(*window.popleft())

    def _submit(self, path: Path) -> Future[Outcome] | SkipFile:
        self.counts["files"] += 1
        try:
            raw = read_bounded(path, self.max_bytes)
            html = decode_page(raw)
        except SkipFile as skip:
            return skip
        return self.runner.submit(html, None, None)

    def _finish(self, path: Path, pending: Future[Outcome] | SkipFile) -> None:
        if isinstance(pending, SkipFile):
            self._skip(path, pending.reason, pending.detail)
            return
        outcome = self.runner.outcome(pending)
        if outcome.article is None:
            self._skip(path, outcome.reason or "error", outcome.detail)
            return
        article = {k: outcome.article.get(k) for k in ARTICLE_FIELDS}
        article["url"] = article["url"] or path.resolve().as_uri()
        article["source"] = printable(path)  # a non-UTF-8 name could not be written
        self.out.write(json.dumps(article, ensure_ascii=False) + "\n")
        self.out.flush()
        self.counts["articles"] += 1

    def _skip(self, path: Path, reason: str, detail: str) -> None:
        self.counts[f"skipped/{reason}"] += 1
        logger.warning(
            "Skipped %(path)s: %(reason)s (%(detail)s)",
            {"path": printable(path), "reason": reason, "detail": detail},
        )


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, gunzipped for .gz, never more than `max_bytes` of them."""
    try:
        kind = _file_kind(path)
        if kind is not None:
            raise SkipFile("not_a_file", f"{kind}, not a regular file")
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise SkipFile("too_large", f"decompresses to over {max_bytes:,} bytes")
            return data
        with path.open("rb") as f:  # whatever st_size says (/proc, a file that grows)
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise SkipFile("too_large", f"over the limit of {max_bytes:,} bytes")
        return data
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise SkipFile("unreadable", f"corrupt gzip data: {error}") from None
    except OSError as error:
        raise SkipFile("unreadable", error.strerror or str(error)) from None


def _file_kind(path: Path) -> str | None:
    """None for a regular file, else what it is: reading a device never ends, opening a FIFO
    waits for a writer."""
    mode = path.stat().st_mode
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


# C0 control bytes that text does not use (tab, line feed, form feed, carriage return and escape
# are allowed); a page with a stray NUL is still a page, a file full of them is not.
_CONTROL = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32)])
_CONTROL_SHARE = 0.05


def looks_binary(head: bytes) -> bool:
    """Binary data rather than text, by the share of control bytes (UTF-16 text, with its
    byte-order mark, is text)."""
    if not head or head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False
    controls = len(head) - len(head.translate(None, _CONTROL))
    return controls > _CONTROL_SHARE * len(head)


def decode_page(raw: bytes) -> str:
    """Text of a saved page, refusing binary data; undeclared charsets as in a crawl."""
    if not raw.strip():
        raise SkipFile("empty", "the file is empty")
    for magic, what in _BINARY_MAGIC.items():
        if raw.startswith(magic):
            raise SkipFile("not_html", f"the file is {what}")
    if looks_binary(raw[:8192]):
        raise SkipFile("not_html", "binary data (control bytes), not HTML")
    canonical = canonical_link(raw)
    outlet = outlets.for_url(canonical) if canonical else None
    text, _, _ = decode_html(raw, None, outlet.default_encoding if outlet else None)
    return text


def _input_files(paths: list[str], counts: Counter[str]) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.name.lower().endswith(SUFFIXES) and not p.is_dir()
            )
            if not found:
                logger.warning(
                    "No .html or .html.gz files under %(path)s", {"path": printable(path)}
                )
            yield from found
        elif path.exists():
            yield path
        else:
            counts["files"] += 1
            counts["skipped/unreadable"] += 1
            logger.warning(
                "Skipped %(path)s: unreadable (no such file or folder)",
                {"path": printable(path)},
            )


def _print_summary(
    counts: Counter[str], output: Path, seconds: float, interrupted: bool = False
) -> None:
    skipped = {k.split("/", 1)[1]: v for k, v in counts.items() if k.startswith("skipped/")}
    lines = [
        "Extraction summary"
        + (
            " - INTERRUPTED (Ctrl-C): pages in extraction and the files after them not written"
            if interrupted
            else ""
        ),
        f"  files read         {counts['files']:>6}",
        f"  articles written   {counts['articles']:>6}  -> {output}",
        f"  files skipped      {sum(skipped.values()):>6}",
    ]
    lines += [f"    {reason:<16} {n:>6}" for reason, n in sorted(skipped.items())]
    lines.append(f"  time taken         {seconds:>6.1f} s")
    print("\n" + "\n".join(lines) + "\n", file=sys.stderr)
