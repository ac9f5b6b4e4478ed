"""Writing the feed snapshot: `articles.jsonl`, `clusters.jsonl` and `grouping.json`.

Each file is written to a temporary file in the same folder and moved over the old one, so a
reader never sees a half-written file, and a crash leaves the previous snapshot in place.
(Scrapy's FEEDS write items as they come; the grouping fields of an article are only known when
the whole run has been grouped, so the snapshot is written here instead.)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


class SnapshotWriter:
    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)

    def write(
        self,
        articles: Iterable[Mapping[str, Any]],
        clusters: Iterable[Mapping[str, Any]],
        about: Mapping[str, Any],
    ) -> dict[str, Path]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        paths = {
            "articles": self._write_lines("articles.jsonl", articles),
            "clusters": self._write_lines("clusters.jsonl", clusters),
            "about": self._write_text("grouping.json", json.dumps(about, indent=2) + "\n"),
        }
        return paths

    def _write_lines(self, name: str, rows: Iterable[Mapping[str, Any]]) -> Path:
        return self._write_text(
            name, "".join(json.dumps(dict(row), ensure_ascii=False) + "\n" for row in rows)
        )

    def _write_text(self, name: str, text: str) -> Path:
        target = self.out_dir / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self.out_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
