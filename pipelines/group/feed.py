"""Grouping an existing JSONL feed of articles (`scrapy dedup`).

Any feed with at least `url` and `text` per line works (this project's, or another tool's);
`title`, `published`, `outlet` and `language` are used when present. The input is read three
times instead of being held in memory: once to check each line and find its publication time,
once in publication order to group, and once to write every usable line back, in input order,
with `cluster_id`, `relation` and `similarity` added. A line that cannot be used is named
in one log line with the reason and left out of the output.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from pipelines.export import atomic_writer, write_jsonl
from pipelines.group.grouper import Grouper
from pipelines.group.options import GroupOptions
from pipelines.group.parallel import add_all
from pipelines.group.published import PublishedAt

logger = logging.getLogger(__name__)

PROGRESS_MIN_BYTES = 1 << 20  # "auto" shows a progress bar for inputs from 1 MiB, on a terminal


@dataclass
class FeedCounts:
    lines: int = 0
    grouped: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    clusters: int = 0
    relations: Counter[str] = field(default_factory=Counter)


class FeedGrouping:
    def __init__(
        self, options: GroupOptions | None = None, progress: str = "auto", workers: int = 1
    ):
        if progress not in {"auto", "on", "off"}:
            raise ValueError(f"progress must be auto, on or off, not {progress!r}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.options = options or GroupOptions()
        self.progress = progress
        self.workers = workers

    def run(self, source: Path, output: Path, clusters: Path | None = None) -> FeedCounts:
        """Group the feed `source` (JSON lines, or gzipped JSON lines) into `output`."""
        with _plain(source) as plain:
            return self._run(plain, output, clusters)

    def _run(self, source: Path, output: Path, clusters: Path | None) -> FeedCounts:
        counts = FeedCounts()
        size = source.stat().st_size
        show = self.progress == "on" or (
            self.progress == "auto" and size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()
        )
        # a feed can be far longer than the time window: what falls out of it is forgotten
        grouper = Grouper(replace(self.options, forget_outside_window=True))
        usable: list[tuple[tuple[int, float], int, int]] = []  # (time, line number, offset)

        urls: dict[str, int] = {}
        with self._bar(size, "checking", show) as bar, source.open("rb") as f:
            for number, offset, raw in _lines(f, bar):
                counts.lines += 1
                record = _usable(number, raw, counts, urls)
                if record is not None:
                    usable.append((PublishedAt.of(record).sort_key(), number, offset))
        usable.sort()
        with self._bar(len(usable), "grouping", show, unit="lines") as bar, source.open("rb") as f:

            def in_order() -> Iterator[tuple[str, dict[str, Any]]]:
                for _, number, offset in usable:
                    f.seek(offset)
                    yield str(number), json.loads(f.readline())
                    bar.update(1)

            add_all(grouper, in_order(), self.workers, count=len(usable))
        assignments = grouper.assignments()

        with (
            atomic_writer(output) as out,
            self._bar(size, "writing", show) as bar,
            source.open("rb") as f,
        ):
            for number, _, raw in _lines(f, bar):
                assignment = assignments.get(str(number))
                if assignment is None:
                    continue
                row = json.loads(raw)
                row.update(
                    cluster_id=assignment.cluster_id,
                    relation=assignment.relation,
                    similarity=assignment.similarity,
                )
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                counts.grouped += 1
                counts.relations[assignment.relation] += 1
        summaries = grouper.clusters()
        counts.clusters = len(summaries)
        if clusters is not None:
            write_jsonl(clusters, summaries)
        return counts

    @staticmethod
    @contextmanager
    def _bar(total: int, what: str, show: bool, unit: str = "B") -> Iterator[tqdm]:
        with tqdm(
            total=total,
            desc=what,
            unit=unit,
            unit_scale=unit == "B",
            disable=not show,
            file=sys.stderr,
            leave=False,
        ) as bar:
            yield bar


@contextmanager
def _plain(source: Path) -> Iterator[Path]:
    """A gzipped feed decompressed to a temporary file (it is read three times, the second
    in publication order: seeking in gzip data would decompress it again and again)."""
    with source.open("rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if not gzipped:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="dedup-") as folder:
        plain = Path(folder) / "feed.jsonl"
        with gzip.open(source, "rb") as packed, plain.open("wb") as out:
            shutil.copyfileobj(packed, out, 1 << 20)
        yield plain


def _lines(f: IO[bytes], bar: tqdm) -> Iterator[tuple[int, int, bytes]]:
    offset = 0
    for number, raw in enumerate(f, start=1):
        yield number, offset, raw
        offset += len(raw)
        bar.update(len(raw))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _usable(
    number: int, raw: bytes, counts: FeedCounts, urls: dict[str, int] | None = None
) -> dict[str, Any] | None:
    """The line's record, or None after logging why it cannot be grouped. `urls` (url -> the
    line that had it first) drops a URL's later lines."""
    if not raw.strip():
        return None  # blank lines are not articles and not worth a message
    try:
        record = json.loads(raw, parse_constant=_reject_constant)  # no NaN, no Infinity
    except RecursionError:
        _skip(number, counts, "not_json", "JSON nested too deeply")
        return None
    except (UnicodeDecodeError, ValueError) as error:
        _skip(number, counts, "not_json", f"not a JSON object ({error})")
        return None
    if not isinstance(record, dict):
        _skip(number, counts, "not_json", f"a JSON {type(record).__name__}, not an object")
        return None
    try:  # "\ud800" is valid JSON but no text: it could not be written back
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        _skip(number, counts, "not_text", "a lone surrogate escape (\\ud800-\\udfff) in a string")
        return None
    for key in ("url", "text"):
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            _skip(number, counts, f"no_{key}", f"no {key!r} (a non-empty string)")
            return None
    for key in ("title", "published", "outlet", "language"):
        if record.get(key) is not None and not isinstance(record[key], str):
            logger.warning(
                "line %(n)d: %(key)r is not a string; ignored", {"n": number, "key": key}
            )
            record[key] = None
    published = record.get("published")
    if published and PublishedAt.parse(published).at is None:
        logger.warning(
            "line %(n)d: 'published' %(value)r is not an ISO 8601 date; ignored",
            {"n": number, "value": published[:40]},
        )
        record["published"] = None
    if urls is not None:
        first = urls.setdefault(record["url"], number)
        if first != number:
            _skip(number, counts, "duplicate_url", f"the same url as line {first}; kept once")
            return None
    return record


def _skip(number: int, counts: FeedCounts, reason: str, detail: str) -> None:
    counts.skipped[reason] += 1
    logger.warning("line %(n)d skipped: %(detail)s", {"n": number, "detail": detail})
