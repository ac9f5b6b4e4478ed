"""Persistent crawl state: one SQLite database (NEWS_STATE_DIR/state.sqlite3) and a lock file.

What it keeps:

- `fetches`: per URL, what the last fetch saw (status, ETag, Last-Modified, body hash, time), for
  conditional GETs and for recognising an unchanged page;
- `articles`: every exported article's latest version, its grouping fields, and the run whose
  delta published it (NULL until a delta has published the change);
- `versions`: the grouping index (each article's paragraph fingerprints, title-and-lead terms,
  cited source, cluster), so that tomorrow's versions join today's clusters;
- `meta`: the schema version and the grouping signature parameters;
- `runs`: one row per run, when it started and how it ended.

Every write is one transaction, and each step at the end of a run (grouping, snapshot, delta)
can be redone, so a run killed at any moment leaves a database that opens cleanly and the next
run finishes what it left. SQLite runs in WAL mode with synchronous=FULL.

The lock (an exclusive `flock` on NEWS_STATE_DIR/crawl.lock) keeps two runs from sharing the
state; the kernel releases it when the holder dies, so a killed run never leaves it stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fetches (
    url TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    fetched_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    published TEXT,
    grouped INTEGER NOT NULL DEFAULT 0,
    cited_source TEXT,
    delta_run TEXT
);
CREATE INDEX IF NOT EXISTS articles_pending ON articles (delta_run) WHERE delta_run IS NULL;
CREATE INDEX IF NOT EXISTS articles_ungrouped ON articles (grouped) WHERE grouped = 0;
CREATE TABLE IF NOT EXISTS versions (
    key TEXT PRIMARY KEY,
    published TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_published ON versions (published);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    reason TEXT,
    delta_written INTEGER NOT NULL DEFAULT 0
);
"""


GROUPING_FIELDS = ("cluster_id", "relation", "similarity")


def feed_fields(article: Mapping[str, Any]) -> dict[str, Any]:
    """The article as the feed shows it: without the stored extras (`cited_source`)."""
    return {k: v for k, v in article.items() if k != "cited_source"}


def kill_if(point: str | None, here: str) -> None:
    """Fault injection for crash tests (NEWS_FAULT_KILL_AT): SIGKILL this process at `here`."""
    if point == here:
        os.kill(os.getpid(), signal.SIGKILL)


class StateLocked(Exception):
    """Another run holds the state."""


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_hash: str | None


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StateStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "state.sqlite3"
        self._lock_file: Any = None
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        with self.transaction():
            self._set_meta("schema_version", str(SCHEMA_VERSION), only_if_missing=True)
        found = int(self.meta("schema_version") or 0)
        if found != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {found}, this code expects {SCHEMA_VERSION}"
            )

    # -- lock ----------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the run lock, or raise StateLocked naming the holder."""
        lock_path = self.directory / "crawl.lock"
        handle = lock_path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise StateLocked(f"another run holds {lock_path} ({holder}); not starting") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {utc_now()}")
        handle.flush()
        self._lock_file = handle

    def release(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def close(self) -> None:
        self.release()
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- meta ----------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str, only_if_missing: bool = False) -> None:
        verb = "INSERT OR IGNORE" if only_if_missing else "INSERT OR REPLACE"
        self.db.execute(f"{verb} INTO meta (key, value) VALUES (?, ?)", (key, value))

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._set_meta(key, value)

    def reset(self) -> None:
        """Forget everything: the next run starts from empty state (the lock must be held)."""
        with self.transaction() as db:
            for table in ("fetches", "articles", "versions", "runs"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta WHERE key != 'schema_version'")

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self) -> str:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        with self.transaction() as db:
            n = 1
            base = run_id
            while db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                n += 1
                run_id = f"{base}-{n}"
            db.execute("INSERT INTO runs (id, started_at) VALUES (?, ?)", (run_id, utc_now()))
        return run_id

    def finish_run(self, run_id: str, reason: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, reason = ? WHERE id = ?",
                (utc_now(), reason, run_id),
            )

    # -- fetches -------------------------------------------------------------------------------

    def validators(self, url: str) -> Validators | None:
        row = self.db.execute(
            "SELECT etag, last_modified, body_hash FROM fetches WHERE url = ? AND status = 200",
            (url,),
        ).fetchone()
        return Validators(*row) if row else None

    def record_fetches(
        self, rows: Iterable[tuple[str, int, str | None, str | None, str | None, str]]
    ) -> None:
        """(url, status, etag, last_modified, body_hash, fetched_at) rows, one transaction."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO fetches"
                " (url, status, etag, last_modified, body_hash, fetched_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    # -- articles ------------------------------------------------------------------------------

    def content_hash(self, url: str) -> str | None:
        row = self.db.execute("SELECT content_hash FROM articles WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def save_article(self, article: Mapping[str, Any]) -> None:
        """A new or changed article: stored ungrouped and not yet published in a delta. A
        changed article keeps its grouping fields until grouping says otherwise."""
        data = dict(article)
        with self.transaction() as db:
            row = db.execute("SELECT data FROM articles WHERE url = ?", (data["url"],)).fetchone()
            if row is not None:
                old = json.loads(row[0])
                for field in GROUPING_FIELDS:
                    if data.get(field) is None:
                        data[field] = old.get(field)
            db.execute(
                "INSERT INTO articles (url, data, content_hash, published, grouped, delta_run)"
                " VALUES (?, ?, ?, ?, 0, NULL)"
                " ON CONFLICT (url) DO UPDATE SET data = excluded.data,"
                " content_hash = excluded.content_hash, published = excluded.published,"
                " grouped = 0, delta_run = NULL",
                (
                    data["url"],
                    json.dumps(data, ensure_ascii=False),
                    data["content_hash"],
                    data.get("published"),
                ),
            )

    def ungrouped(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT data FROM articles WHERE grouped = 0 ORDER BY url")
        return [json.loads(data) for (data,) in rows]

    def articles(self, urls: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored articles (all, or those of `urls`), with the cited source of each under
        `cited_source` (not a feed field: `feed_fields` leaves it out)."""
        query = "SELECT data, cited_source FROM articles"
        if urls is None:
            rows = self.db.execute(query + " ORDER BY url").fetchall()
        else:
            wanted = sorted(set(urls))
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self.db.execute(f"{query} WHERE url IN ({marks})", chunk).fetchall()
        return [{**json.loads(data), "cited_source": source} for data, source in rows]

    def feed(self) -> Iterator[dict[str, Any]]:
        """Every stored article as the feed shows it, oldest first, streamed (not all held)."""
        rows = self.db.execute("SELECT data FROM articles ORDER BY COALESCE(published, '~'), url")
        for (data,) in rows:
            yield json.loads(data)

    def grouping_rows(self) -> list[dict[str, Any]]:
        """What cluster summaries need of every article, without its text."""
        fields = ("url", "outlet", "title", "published", "cluster_id", "relation", "similarity")
        columns = ", ".join(f"json_extract(data, '$.{f}')" for f in fields)
        rows = self.db.execute(f"SELECT {columns}, cited_source FROM articles")
        return [dict(zip((*fields, "cited_source"), row, strict=True)) for row in rows]

    def article_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def save_grouping(
        self,
        articles: Iterable[Mapping[str, Any]],
        versions: Iterable[tuple[str, str | None, str]],
        signature: Mapping[str, Any],
    ) -> None:
        """Grouping results, in one transaction: articles with their grouping fields (one whose
        fields changed is published again in the next delta) and cited source, the index
        entries, the parameters."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE articles SET data = ?, cited_source = ?, grouped = 1,"
                " delta_run = CASE WHEN data = ? THEN delta_run ELSE NULL END WHERE url = ?",
                (
                    (
                        data := json.dumps(feed_fields(a), ensure_ascii=False),
                        a.get("cited_source"),
                        data,
                        a["url"],
                    )
                    for a in articles
                ),
            )
            db.executemany(
                "INSERT OR REPLACE INTO versions (key, published, data) VALUES (?, ?, ?)",
                versions,
            )
            db.execute("UPDATE articles SET grouped = 1 WHERE grouped = 0")
            self._set_meta("signature", json.dumps(signature, sort_keys=True))

    def versions(self, since: str | None) -> list[str]:
        """Serialised index entries published since `since` (ISO 8601), or undated ones."""
        if since is None:
            rows = self.db.execute("SELECT data FROM versions ORDER BY rowid")
        else:
            rows = self.db.execute(
                "SELECT data FROM versions WHERE published IS NULL OR published >= ?"
                " ORDER BY rowid",
                (since,),
            )
        return [data for (data,) in rows]

    # -- deltas --------------------------------------------------------------------------------

    def claim_pending(self, run_id: str) -> list[str]:
        """Give every change no delta has published yet, and every change claimed by a run
        whose delta was never written (it was killed), to `run_id`; return their URLs."""
        with self.transaction() as db:
            db.execute(
                "UPDATE articles SET delta_run = ? WHERE delta_run IS NULL OR delta_run IN"
                " (SELECT id FROM runs WHERE delta_written = 0 AND id != ?)",
                (run_id, run_id),
            )
            rows = db.execute("SELECT url FROM articles WHERE delta_run = ?", (run_id,))
            return [url for (url,) in rows]

    def delta_written(self, run_id: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET delta_written = 1 WHERE id = ?", (run_id,))
