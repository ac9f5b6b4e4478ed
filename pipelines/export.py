"""Writing output files whole or not at all: the crawl's snapshot and per-run deltas.

`atomic_writer` writes to a temporary file in the target's folder and moves it over the target
when complete, so a reader never sees a half-written file, a crash leaves the previous file in
place, and a command may overwrite its own input. `SnapshotWriter` writes the crawl's
`articles.jsonl`, `clusters.jsonl` and `grouping.json` that way, and each run's delta as a
folder `runs/<run id>/` that appears complete or not at all. (Scrapy's FEEDS write items as they
come; an article's grouping fields are only known when the whole run has been grouped.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from crawler.state import feed_fields


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[str]]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    with atomic_writer(path) as f:
        f.writelines(json.dumps(dict(row), ensure_ascii=False) + "\n" for row in rows)
    return Path(path)


class SnapshotWriter:
    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)

    def write(
        self,
        articles: Iterable[Mapping[str, Any]],
        clusters: Iterable[Mapping[str, Any]],
        about: Mapping[str, Any],
    ) -> list[Path]:
        about_path = self.out_dir / "grouping.json"
        with atomic_writer(about_path) as f:
            f.write(json.dumps(about, indent=2) + "\n")
        return [
            write_jsonl(self.out_dir / "articles.jsonl", (feed_fields(a) for a in articles)),
            write_jsonl(self.out_dir / "clusters.jsonl", clusters),
            about_path,
        ]

    def write_delta(
        self,
        run_id: str,
        articles: Iterable[Mapping[str, Any]],
        clusters: Iterable[Mapping[str, Any]],
    ) -> Path:
        """`runs/<run_id>/articles.jsonl` and `clusters.jsonl`: what the run added or changed.
        Written again whole if the folder exists (a run that died before recording it)."""
        runs = self.out_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        target = runs / run_id
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=runs))
        try:
            write_jsonl(tmp / "articles.jsonl", (feed_fields(a) for a in articles))
            write_jsonl(tmp / "clusters.jsonl", clusters)
            if target.exists():
                shutil.rmtree(target)
            tmp.replace(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target
