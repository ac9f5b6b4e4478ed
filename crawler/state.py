"""Persistent crawl state: one SQLite database (NEWS_STATE_DIR/state.sqlite3) and a lock file.

What it keeps:

- `fetches`: per URL, what the last fetch saw (status, ETag, Last-Modified, body hash, time), for
  conditional GETs and for recognising an unchanged page;
- `articles`: every exported article's latest version, its grouping fields, and the run whose
  delta published it (NULL until a delta has published the change);
- `versions`: the grouping index (each article's paragraph fingerprints, title-and-lead terms,
  cited source, cluster), so that tomorrow's versions join today's clusters;
- `meta`: the schema version and the grouping signature parameters;
- `runs`: one row per run, when it started and how it ended;
- `retries`: the retry list: every page a run discovered and has not brought to an end (reason
  `not_reached`: a killed run), and every page that failed for a reason that may pass (HTTP 5xx,
  timeouts, resets, truncated bodies), with its attempts (runs that failed it) and when to try
  it next. Each run requests the pages that are due first; a page is given up after
  NEWS_RETRY_LIST_RUNS failed runs.

Every write is one transaction, and each step at the end of a run (grouping, snapshot, delta)
can be redone, so a run killed at any moment leaves a database that opens cleanly and the next
run finishes what it left. SQLite runs in WAL mode with synchronous=FULL.

The lock (an exclusive `flock` on NEWS_STATE_DIR/crawl.lock) keeps two runs from sharing the
state; the kernel releases it when the holder dies, so a killed run never leaves it stale.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS retries (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    outlet TEXT,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try TEXT NOT NULL,
    first_seen TEXT NOT NULL
);
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


def parse_published(value: object) -> tuple[datetime | None, bool]:
    """(instant in UTC, whether only the date is known) of an ISO 8601 publication time; a
    date alone is its midnight (UTC unless an offset is given). (None, False) for anything
    else. The one reading of `published`, for ordering here and for grouping's time windows."""
    if not isinstance(value, str) or not value.strip():
        return None, False
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None, False
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), len(value) == 10


def publication_order(value: str | None) -> tuple[int, float]:
    """Sort key of an ISO 8601 publication time by its instant (UTC); a date alone counts as
    its end, after the timed versions of that day; no time sorts last."""
    at, date_only = parse_published(value)
    if at is None:
        return (1, 0.0)
    return (0, at.timestamp() + (86_400 if date_only else 0))


def kill_if(point: str | None, here: str) -> None:
    """Fault injection for crash tests (NEWS_FAULT_KILL_AT): SIGKILL this process at `here`."""
    if point == here:
        os.kill(os.getpid(), signal.SIGKILL)


class StateLocked(Exception):
    """Another run holds the state."""


class StateCorrupt(Exception):
    """The state database cannot be read: the message names the file, what is wrong, and what
    to do. Nothing was written to it."""


def set_aside(directory: str | Path) -> Path:
    """Move a corrupt state database (and its WAL files) out of the way, keeping it for a
    post-mortem: `state.sqlite3.corrupt-<UTC time>`. Returns the new name."""
    path = Path(directory) / "state.sqlite3"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    path.replace(target)
    return target


@dataclass(frozen=True)
class RetryOp:
    """A change to the retry list: `seen` (discovered; added unless listed), `done` (came to an
    end; removed), `failed` (a passing failure; attempts + 1, next try after a backoff)."""

    what: str
    url: str
    kind: str = "article"
    outlet: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None
    body_hash: str | None


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_state(directory: str | Path, *, reset: bool = False) -> StateStore:
    """The state store of `directory`. A damaged database raises StateCorrupt, unless `reset`
    (NEWS_STATE_RESET) asks for empty state: it is then set aside and a new one begun."""
    try:
        return StateStore(directory)
    except StateCorrupt as error:
        if not reset:
            raise
        kept = set_aside(directory)
        logger.warning(
            "%(error)s; starting from empty state, the damaged file kept as %(kept)s",
            {"error": str(error).split("; nothing was changed")[0], "kept": kept},
        )
        return StateStore(directory)


class StateStore:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "state.sqlite3"
        self._lock_file: Any = None
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            self._check()  # before anything writes to it
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            with self.transaction():
                self._set_meta("schema_version", str(SCHEMA_VERSION), only_if_missing=True)
        except sqlite3.DatabaseError as error:
            self.db.close()
            raise self._corrupt(str(error)) from None
        found = int(self.meta("schema_version") or 0)
        if found != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {found}, this code expects {SCHEMA_VERSION}"
            )

    def _check(self) -> None:
        """Raise StateCorrupt unless SQLite's quick integrity check passes (it reads every
        page: about a second per GB)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        problems = [row[0] for row in self.db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            self.db.close()
            raise self._corrupt("; ".join(p.replace("\n", " ") for p in problems))

    def _corrupt(self, what: str) -> StateCorrupt:
        return StateCorrupt(
            f"the crawl state {self.path} is damaged ({what}); nothing was changed. Restore it"
            " from a backup, or start from empty state with -s NEWS_STATE_RESET=1 (the damaged"
            " file is then kept as state.sqlite3.corrupt-<time>)"
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
            for table in ("fetches", "articles", "versions", "runs", "retries"):
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
            self._record_fetches(db, rows)

    @staticmethod
    def _record_fetches(
        db: sqlite3.Connection,
        rows: Iterable[tuple[str, int, str | None, str | None, str | None, str]],
    ) -> None:
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
        """Every stored article as the feed shows it, oldest first by the instant of
        publication (not by the text of the time: "...T23:30-05:00" is after "...T01:00+03:00"
        of the next day), undated last; streamed in chunks, not all held."""
        keys = self.db.execute("SELECT url, published FROM articles").fetchall()
        keys.sort(key=lambda row: (publication_order(row[1]), row[0]))
        for start in range(0, len(keys), 500):
            chunk = [url for url, _ in keys[start : start + 500]]
            marks = ",".join("?" * len(chunk))
            rows = dict(
                self.db.execute(f"SELECT url, data FROM articles WHERE url IN ({marks})", chunk)
            )
            for url in chunk:
                yield json.loads(rows[url])

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

    # -- the retry list --------------------------------------------------------------------------

    def update_retries(
        self,
        ops: Iterable[RetryOp],
        fetches: Iterable[tuple[str, int, str | None, str | None, str | None, str]],
        *,
        backoff: float,
        max_runs: int,
    ) -> list[tuple[str, str, int]]:
        """Apply `ops` in order and record `fetches`, in one transaction. Returns the pages
        given up: (url, last reason, attempts)."""
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="seconds")
        given_up = []
        with self.transaction() as db:
            for op in ops:
                if op.what == "seen":
                    db.execute(
                        "INSERT OR IGNORE INTO retries"
                        " (url, kind, outlet, reason, attempts, next_try, first_seen)"
                        " VALUES (?, ?, ?, 'not_reached', 0, ?, ?)",
                        (op.url, op.kind, op.outlet, stamp, stamp),
                    )
                elif op.what == "done":
                    db.execute("DELETE FROM retries WHERE url = ?", (op.url,))
                else:  # failed
                    row = db.execute(
                        "SELECT attempts FROM retries WHERE url = ?", (op.url,)
                    ).fetchone()
                    attempts = (row[0] if row else 0) + 1
                    if attempts >= max_runs:
                        db.execute("DELETE FROM retries WHERE url = ?", (op.url,))
                        given_up.append((op.url, op.reason, attempts))
                        continue
                    wait = timedelta(seconds=backoff * 2 ** (attempts - 1))
                    db.execute(
                        "INSERT INTO retries"
                        " (url, kind, outlet, reason, attempts, next_try, first_seen)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                        " reason = excluded.reason, attempts = excluded.attempts,"
                        " next_try = excluded.next_try",
                        (
                            op.url,
                            op.kind,
                            op.outlet,
                            op.reason,
                            attempts,
                            (now + wait).isoformat(timespec="seconds"),
                            stamp,
                        ),
                    )
            self._record_fetches(db, fetches)
        return given_up

    def due_retries(self) -> list[tuple[str, str]]:
        """(url, kind) of the retry list's pages due now, oldest first."""
        rows = self.db.execute(
            "SELECT url, kind FROM retries WHERE next_try <= ? ORDER BY first_seen, url",
            (utc_now(),),
        )
        return [(url, kind) for url, kind in rows]

    def retry_list_size(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM retries").fetchone()[0])

    def retry_list(self) -> list[dict[str, Any]]:
        fields = ("url", "kind", "outlet", "reason", "attempts", "next_try", "first_seen")
        rows = self.db.execute(f"SELECT {', '.join(fields)} FROM retries ORDER BY url")
        return [dict(zip(fields, row, strict=True)) for row in rows]

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
