"""A run never loses or destroys data: failed output, corrupt state, failed and unreached pages.

Each test goes through the public command (`scrapy crawl`, `bin/scheduled-crawl`) on the saved
pages, offline or through the loopback fixture server.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from crawler.state import StateStore
from tests.conftest import crawl, read_jsonl, run_scrapy
from tests.fixture_server import Fault, FixtureProxy
from tests.seeds import SEEDS
from tests.test_incremental import deltas, live
from tests.test_scheduling import scheduled


@contextlib.contextmanager
def small_disk(where: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (root only; skips elsewhere)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    return filler


def test_a_full_disk_fails_the_run_keeps_the_previous_snapshot_and_the_next_run_writes_it(
    tmp_path: Path,
) -> None:
    with small_disk(tmp_path / "out") as out:
        (out / "articles.jsonl").write_text('{"previous": "snapshot"}\n')
        (out / "clusters.jsonl").write_text('{"previous": "clusters"}\n')
        filler = fill(out)
        failed = scheduled(tmp_path)
        assert failed.returncode == 74
        runs_log = (tmp_path / "logs" / "runs.log").read_text().splitlines()
        assert "exit 74 (failed: the feeds could not be written)" in runs_log[-1]
        log = next((tmp_path / "logs").glob("crawl-*-all.log")).read_text()
        errors = [line for line in log.splitlines() if "Could not write the feeds" in line]
        assert len(errors) == 1 and "No space left on device" in errors[0]
        assert "finished - FAILED: the feeds could not be written" in log
        assert "output: NOT written to" in log
        assert (out / "articles.jsonl").read_text() == '{"previous": "snapshot"}\n'
        assert (out / "clusters.jsonl").read_text() == '{"previous": "clusters"}\n'
        assert sorted(p.name for p in out.iterdir() if p.name != "runs") == [
            "articles.jsonl",
            "clusters.jsonl",
            "filler",
        ]  # no temporary file left behind
        assert not list((out / "runs").glob("2*"))  # no delta
        filler.unlink()
        again = scheduled(tmp_path)
        assert again.returncode == 0
        assert len(read_jsonl(out / "articles.jsonl")) == 7
        (delta,) = (out / "runs").glob("2*")
        assert len(read_jsonl(delta / "articles.jsonl")) == 7  # the failed run's changes


def test_an_output_that_cannot_be_replaced_fails_the_run_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    first = crawl("all", tmp_path)
    assert first.returncode == 0, first.log[-2000:]
    before = (tmp_path / "clusters.jsonl").read_bytes()
    (tmp_path / "articles.jsonl").unlink()
    (tmp_path / "articles.jsonl").mkdir()  # cannot be replaced by a file, even by root
    second = crawl("all", tmp_path, "NEWS_STATE_RESET=1")
    assert second.returncode == 74
    assert "Could not write the feeds" in second.log and "IsADirectoryError" in second.log
    assert (tmp_path / "clusters.jsonl").read_bytes() == before  # all or nothing
    shutil.rmtree(tmp_path / "articles.jsonl")
    third = crawl("all", tmp_path)
    assert third.returncode == 0 and len(third.articles) == 7


def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    if how == "truncated":
        del data[len(data) // 2 :]
        path.write_bytes(bytes(data))
        return
    # a page in use near the middle overwritten with garbage: a free page (the file's layout
    # varies from run to run) would hold nothing to damage, so the next one is tried
    garbage = bytes((i * 7919 + 13) % 251 for i in range(page))
    pages = len(data) // page
    for n in sorted(range(1, pages), key=lambda n: abs(n - pages // 2)):
        damaged = bytearray(data)
        damaged[n * page : (n + 1) * page] = garbage
        path.write_bytes(bytes(damaged))
        if not _intact(path):
            return
    raise AssertionError(f"no page of {path} could be damaged")


def _intact(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_state_stops_the_run_with_one_line_and_touches_nothing(
    tmp_path: Path, how: str
) -> None:
    first = crawl("all", tmp_path)
    assert first.returncode == 0, first.log[-2000:]
    db = tmp_path / "state" / "state.sqlite3"
    _damage(db, how)
    damaged = db.read_bytes()
    snapshot = (tmp_path / "articles.jsonl").read_bytes()
    second = crawl("all", tmp_path)
    assert second.returncode == 65
    # after Scrapy's start-up banner, one line and nothing else
    after_banner = second.log.split("'Platform':", 1)[1].splitlines()[1:]
    lines = [line for line in after_banner if line.strip()]
    assert len(lines) == 1, second.log[-3000:]
    assert (
        str(db) in lines[0] and "NEWS_STATE_RESET=1" in lines[0] and "restore" in lines[0].lower()
    )
    assert db.read_bytes() == damaged  # nothing written to it
    assert (tmp_path / "articles.jsonl").read_bytes() == snapshot
    reset = crawl("all", tmp_path, "NEWS_STATE_RESET=1")
    assert reset.returncode == 0, reset.log[-2000:]
    assert len(reset.articles) == 7
    (kept,) = (tmp_path / "state").glob("state.sqlite3.corrupt-*")
    assert kept.read_bytes() == damaged  # set aside, not deleted
    assert "starting from empty state" in reset.log


def test_a_reset_that_would_shrink_the_snapshot_to_one_outlet_is_refused(tmp_path: Path) -> None:
    """The snapshot is the state's articles: resetting the state with a one-outlet spider would
    leave only that outlet in out/articles.jsonl. Refused with one line, nothing touched; a
    reset of every outlet, or of one outlet into its own folders, goes ahead."""
    first = crawl("all", tmp_path)
    assert first.returncode == 0, first.log[-2000:]
    outlets = {a["outlet"] for a in first.articles}
    assert len(outlets) > 1
    snapshot = (tmp_path / "articles.jsonl").read_bytes()
    state = (tmp_path / "state" / "state.sqlite3").read_bytes()
    one = crawl("kyiv_independent", tmp_path, "NEWS_STATE_RESET=1")
    assert one.returncode == 2
    (line,) = [x for x in one.log.splitlines() if "refused" in x]
    others = sum(1 for a in first.articles if a["outlet"] != "kyiv_independent")
    assert f"{others} articles of other outlets would leave it" in line
    assert "scrapy crawl all" in line and "Run summary" not in one.log
    assert (tmp_path / "articles.jsonl").read_bytes() == snapshot
    assert (tmp_path / "state" / "state.sqlite3").read_bytes() == state
    alone = crawl("kyiv_independent", tmp_path / "alone", "NEWS_STATE_RESET=1")
    assert alone.returncode == 0 and {a["outlet"] for a in alone.articles} == {"kyiv_independent"}
    every = crawl("all", tmp_path, "NEWS_STATE_RESET=1")
    assert every.returncode == 0 and {a["outlet"] for a in every.articles} == outlets


# -- the retry list -------------------------------------------------------------------------------

FAILING = {  # article -> how it fails in the first run (every try); the second run gets it
    SEEDS["000"]["url"]: Fault("respond", status=500),
    SEEDS["001"]["url"]: Fault("reset"),
    SEEDS["003"]["url"]: Fault("truncate"),
    SEEDS["004"]["url"]: Fault("hang"),
}
BAD_FIXTURES_BY_REASON = {  # fixtures/README.md: saved pages that fail in every run
    "truncated": "https://kyivindependent.com/south-korea-summons-russian-ambassador-over-north-korean-troop-deployment/",
    "http_500": "https://newsukraine.rbc.ua/news/kremlin-comments-on-reports-of-north-korean-troops-1729680012.html",
}
BAD_FIXTURES = set(BAD_FIXTURES_BY_REASON.values())
FAST = ("DOWNLOAD_TIMEOUT=2", "NEWS_RETRY_BACKOFF=0", "NEWS_RETRY_LIST_BACKOFF=0")


def test_an_article_that_failed_is_fetched_by_the_next_run_though_nothing_links_to_it_anew(
    site: FixtureProxy, tmp_path: Path
) -> None:
    site.faults.update(FAILING)
    first = live(site, tmp_path, *FAST)
    assert first.returncode == 0, first.log[-2000:]
    assert not set(FAILING) & set(first.by_url())
    listed = {row["url"]: row for row in _retry_list(tmp_path)}
    # the faults, and the fixtures' own bad pages: a page truncated and one answering 500
    assert set(listed) == set(FAILING) | BAD_FIXTURES
    assert first.stats["news/retry_list/size"] == len(listed)
    assert re.search(rf"retry list +{len(listed)}\n", first.log)
    assert {url: row["reason"] for url, row in listed.items()} == {
        SEEDS["000"]["url"]: "http_500",
        SEEDS["001"]["url"]: "connection_failed",
        SEEDS["003"]["url"]: "truncated",
        SEEDS["004"]["url"]: "timeout",
        **{url: reason for reason, url in BAD_FIXTURES_BY_REASON.items()},
    }
    assert all(row["attempts"] == 1 for row in listed.values())

    site.faults.clear()
    second = live(site, tmp_path, *FAST)
    assert second.returncode == 0, second.log[-2000:]
    assert (
        second.stats["news/skipped/unchanged"] + second.stats.get("news/skipped/not_modified", 0)
        > 0
    )  # the listings, feeds and sitemaps did not change: nothing links to them anew
    assert second.stats["news/retry_list/requeued"] == len(listed)
    assert {row["url"]: row["attempts"] for row in _retry_list(tmp_path)} == dict.fromkeys(
        BAD_FIXTURES, 2
    )
    assert set(FAILING) <= set(second.by_url())
    _, (_, delta) = sorted(deltas(tmp_path).items())
    # in the second run's delta (with the articles whose cluster they joined)
    assert set(FAILING) <= {a["url"] for a in delta}
    wsj = second.by_url()[SEEDS["001"]["url"]]["cluster_id"]
    assert second.by_url()[SEEDS["000"]["url"]]["cluster_id"] == wsj  # and grouped as always


def test_a_page_that_keeps_failing_is_given_up_after_n_runs_with_one_line(
    site: FixtureProxy, tmp_path: Path
) -> None:
    url = SEEDS["002"]["url"]
    site.faults[url] = Fault("respond", status=503)
    runs = [live(site, tmp_path, *FAST, "NEWS_RETRY_LIST_RUNS=2") for _ in range(3)]
    assert all(run.returncode == 0 for run in runs)
    n = len(BAD_FIXTURES)
    assert [run.stats["news/retry_list/size"] for run in runs] == [n + 1, 0, 0]
    assert runs[1].stats["news/retry_list/given_up"] == n + 1
    gave_up = [line for line in runs[1].log.splitlines() if "Gave up" in line and url in line]
    assert len(gave_up) == 1 and "2 runs" in gave_up[0]
    assert "http_503" in gave_up[0]
    asked = [u for u in site.requests if u == url]
    assert len(asked) == 2 * 3  # two runs, three tries each; the third run did not ask


def test_the_pages_a_killed_run_had_not_reached_are_fetched_by_the_next(
    site: FixtureProxy, tmp_path: Path
) -> None:
    reference = live(site, tmp_path / "reference")
    killed = live(
        site, tmp_path / "run", "NEWS_FAULT_KILL_AT=articles:1", "NEWS_STATE_FLUSH_EVERY=1"
    )
    assert killed.returncode == -9
    assert len(_retry_list(tmp_path / "run")) > 0  # what it found and had not finished
    again = live(site, tmp_path / "run")
    assert again.returncode == 0, again.log[-2000:]
    assert set(again.by_url()) == set(reference.by_url())
    assert {row["url"] for row in _retry_list(tmp_path / "run")} == BAD_FIXTURES


def _retry_list(out: Path) -> list[dict[str, Any]]:
    store = StateStore(out / "state")
    try:
        return store.retry_list()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_outputs_follow_the_umask_and_an_input_keeps_its_mode(
    tmp_path: Path, mask: int, file_mode: int, folder_mode: int
) -> None:
    import os

    old = os.umask(mask)
    try:
        result = crawl("all", tmp_path)
        assert result.returncode == 0, result.log[-2000:]
        assert (tmp_path / "articles.jsonl").stat().st_mode & 0o777 == file_mode
        (delta,) = (tmp_path / "runs").glob("2*")
        assert delta.stat().st_mode & 0o777 == folder_mode
        feed = tmp_path / "feed.jsonl"
        shutil.copy(tmp_path / "articles.jsonl", feed)
        feed.chmod(0o640)
        assert run_scrapy("dedup", str(feed), "-o", str(feed)).returncode == 0
        assert feed.stat().st_mode & 0o777 == 0o640  # replaced in place, mode kept
    finally:
        os.umask(old)


def test_oldest_first_means_the_instant_not_the_text(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    base = {"text": "t", "content_hash": "h", "outlet": "o", "title": None}
    times = {
        "https://a.example/late-local": "2024-10-23T23:30:00-05:00",  # 04:30 UTC on the 24th
        "https://a.example/early-local": "2024-10-24T01:00:00+03:00",  # 22:00 UTC on the 23rd
        "https://a.example/day": "2024-10-24",  # a day without a time: after its timed ones
        "https://a.example/undated": None,
    }
    for url, published in times.items():
        store.save_article({**base, "url": url, "published": published})
    order = [a["url"].rsplit("/", 1)[1] for a in store.feed()]
    assert order == ["early-local", "late-local", "day", "undated"]
    store.close()
