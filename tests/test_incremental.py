"""Scheduled runs: persistent state, deltas, a site that changes between runs, the lock, crashes.

Live crawls go through the loopback proxy (tests/fixture_server.py), whose pages can change
between runs: fixtures/changes/ holds the second state of the aggregator's site (a new re-report
of the WSJ report, seed 004 updated, the category page linking the new article), and seed 003's
page is gone in it.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from crawler.offline import Manifest
from crawler.state import StateStore
from tests.conftest import MANIFEST, ROOT, CrawlResult, crawl, read_jsonl, run_scrapy
from tests.fixture_server import LIVE_SETTINGS, FixtureProxy, Page
from tests.seeds import SEEDS

CHANGES = Manifest.load(ROOT / "fixtures" / "changes" / "changes.json")
NEW_ARTICLE = next(p.url for p in CHANGES.pages if "secret-clause-in-moscow" in p.url)
KILL_POINTS = ["articles:1", "articles:5", "grouped", "snapshot", "delta"]


def change(site: FixtureProxy) -> None:
    """The second state of the sites."""
    for page in CHANGES.pages:
        site.changes[page.url] = Page(page.path.read_bytes(), page.status, page.headers)
    site.changes[SEEDS["003"]["url"]] = None


def live(site: FixtureProxy, out: Path, *settings: str) -> CrawlResult:
    env = site.env()
    return crawl("all", out, *LIVE_SETTINGS, *settings, env=env)


def deltas(out: Path) -> dict[str, list[dict[str, Any]]]:
    runs = sorted((out / "runs").iterdir()) if (out / "runs").exists() else []
    return {run.name: read_jsonl(run / "articles.jsonl") for run in runs}


def comparable(articles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["url"]: {k: v for k, v in a.items() if k != "fetched_at"} for a in articles}


def test_a_second_run_of_an_unchanged_site_changes_nothing(site: FixtureProxy, tmp_path) -> None:
    first = live(site, tmp_path)
    assert first.returncode == 0, first.log[-2000:]
    snapshot = {n: (tmp_path / n).read_bytes() for n in ("articles.jsonl", "clusters.jsonl")}
    asked_first = len(site.requests)
    second = live(site, tmp_path)
    assert second.returncode == 0, second.log[-2000:]
    assert {n: (tmp_path / n).read_bytes() for n in snapshot} == snapshot  # byte for byte
    runs = deltas(tmp_path)
    assert len(runs) == 2
    first_delta, second_delta = runs.values()
    assert len(first_delta) == 7 and second_delta == []
    assert second.stats["news/skipped/not_modified"] > 0  # 304s from ETag / Last-Modified
    assert second.stats["news/skipped/unchanged"] > 0  # same body hash, no validators
    assert "news/articles/new" not in second.stats and "news/articles/updated" not in second.stats
    assert len(site.requests) - asked_first < asked_first / 2


def test_a_changed_site_gives_a_delta_and_keeps_cluster_ids(site: FixtureProxy, tmp_path) -> None:
    first = live(site, tmp_path)
    assert first.returncode == 0, first.log[-2000:]
    change(site)
    second = live(site, tmp_path)
    assert second.returncode == 0, second.log[-2000:]

    delta = list(deltas(tmp_path).values())[-1]
    assert {a["url"] for a in delta} == {NEW_ARTICLE, SEEDS["004"]["url"]}
    before, after = first.by_url(), second.by_url()
    # the new re-report joins yesterday's WSJ cluster, under the same id
    wsj = before[SEEDS["001"]["url"]]["cluster_id"]
    assert after[NEW_ARTICLE]["cluster_id"] == wsj
    assert after[NEW_ARTICLE]["relation"] == "rewrite"
    # the updated article is updated, not duplicated, and keeps its cluster
    updated = after[SEEDS["004"]["url"]]
    assert "Update: South Korea's intelligence service" in updated["text"]
    assert updated["cluster_id"] == before[SEEDS["004"]["url"]]["cluster_id"]
    assert second.stats["news/articles/new"] == 1 and second.stats["news/articles/updated"] == 1
    # the removed article stays in the feed: it was published
    assert SEEDS["003"]["url"] in after
    assert all(after[url]["cluster_id"] == a["cluster_id"] for url, a in before.items())
    wsj_line = next(c for c in read_jsonl(tmp_path / "clusters.jsonl") if c["id"] == wsj)
    assert NEW_ARTICLE in {m["url"] for m in wsj_line["members"]}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_run_killed_at_any_moment_loses_nothing(
    site: FixtureProxy, tmp_path: Path, point: str
) -> None:
    reference = live(site, tmp_path / "reference")
    # every fetch record written at once: the worst case for what a killed run leaves behind
    killed = live(site, tmp_path / "run", f"NEWS_FAULT_KILL_AT={point}", "NEWS_STATE_FLUSH_EVERY=1")
    assert killed.returncode == -9, killed.log[-2000:]
    with sqlite3.connect(tmp_path / "run" / "state" / "state.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again = live(site, tmp_path / "run")
    assert again.returncode == 0, again.log[-2000:]
    urls = [a["url"] for a in again.articles]
    assert len(urls) == len(set(urls))  # none twice
    assert comparable(again.articles) == comparable(reference.articles)  # none lost
    published = {a["url"] for run in deltas(tmp_path / "run").values() for a in run}
    assert published == set(urls)  # every article reached a delta, at least once


def test_a_run_killed_while_the_site_changed_catches_up(site: FixtureProxy, tmp_path) -> None:
    live(site, tmp_path)
    change(site)
    killed = live(site, tmp_path, "NEWS_FAULT_KILL_AT=articles:1")
    assert killed.returncode == -9
    again = live(site, tmp_path)
    assert again.returncode == 0, again.log[-2000:]
    after = again.by_url()
    assert NEW_ARTICLE in after and "Update:" in after[SEEDS["004"]["url"]]["text"]
    published = [a["url"] for run in list(deltas(tmp_path).values())[1:] for a in run]
    assert set(published) == {NEW_ARTICLE, SEEDS["004"]["url"]}


def test_a_run_finding_the_state_held_exits_with_a_clear_message(tmp_path: Path) -> None:
    holder = StateStore(tmp_path / "state")
    holder.acquire()
    try:
        proc = run_scrapy(
            "crawl",
            "all",
            "-s",
            f"NEWS_STATE_DIR={tmp_path / 'state'}",
            "-s",
            f"NEWS_OUTPUT_DIR={tmp_path}",
        )
    finally:
        holder.close()
    assert proc.returncode == 75
    errors = [line for line in proc.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "another run holds" in errors[0] and "not starting" in errors[0]
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "articles.jsonl").exists()


def test_reset_starts_from_empty_state(tmp_path: Path) -> None:
    first = crawl("all", tmp_path)
    second = crawl("all", tmp_path)
    fresh = crawl("all", tmp_path, "NEWS_STATE_RESET=1")
    assert [r.stats.get("news/delta/articles") for r in (first, second, fresh)] == [7, 0, 7]
    assert comparable(fresh.articles) == comparable(first.articles)


def test_state_records_runs_and_grouping_parameters(tmp_path: Path) -> None:
    crawl("all", tmp_path)
    store = StateStore(tmp_path / "state")
    try:
        runs = store.db.execute("SELECT reason, delta_written FROM runs").fetchall()
        assert runs == [("finished", 1)]
        signature = json.loads(store.meta("signature") or "{}")
        assert signature["num_perm"] == 128 and signature["permutation_scheme"] == "affine32"
        assert store.article_count() == 7
    finally:
        store.close()


def test_a_live_crawl_recorded_to_warc_replays_offline(site: FixtureProxy, tmp_path: Path) -> None:
    recorded = live(site, tmp_path / "live", f"NEWS_WARC_DIR={tmp_path / 'warc'}")
    assert recorded.returncode == 0, recorded.log[-2000:]
    assert recorded.stats["news/warc/records"] == recorded.stats["downloader/response_count"]
    # offline, from the WARC, with other settings: a stricter duplicate threshold
    replayed = crawl(
        "all",
        tmp_path / "replay",
        f"NEWS_REPLAY_WARC={tmp_path / 'warc'}",
        "NEWS_GROUP_DUPLICATE_CONTAINMENT=0.99",
    )
    assert replayed.returncode == 0, replayed.log[-2000:]
    assert "pages come from" in replayed.log and "warc" in replayed.log
    assert set(replayed.by_url()) == set(recorded.by_url())
    for url, article in recorded.by_url().items():
        assert replayed.by_url()[url]["text"] == article["text"]
    # the cut-short copy of 003 no longer counts as its duplicate at 0.99 containment
    cut = next(u for u in recorded.by_url() if "2024/11/02" in u)
    assert recorded.by_url()[cut]["relation"] == "duplicate"
    assert replayed.by_url()[cut]["relation"] != "duplicate"
    # a page cut short in transfer replays as cut short
    assert replayed.stats["news/skipped/truncated"] == recorded.stats["news/skipped/truncated"] == 1


def test_a_warc_of_revalidations_replays_from_the_folder_and_says_so_alone(
    site: FixtureProxy, tmp_path: Path
) -> None:
    """A run with state gets 304s for unchanged pages: its WARC holds revisit records, no
    bodies. Replayed alone from fresh state it says in one line how many pages it holds only as
    revalidations and which WARC of its folder has their bodies; the folder replays whole."""
    warc = tmp_path / "warc"
    first = live(site, tmp_path / "live", f"NEWS_WARC_DIR={warc}")
    second = live(site, tmp_path / "live", f"NEWS_WARC_DIR={warc}")
    assert first.returncode == second.returncode == 0, second.log[-2000:]
    revalidated = second.stats["news/skipped/not_modified"]
    assert revalidated > 0
    earlier, later = sorted(warc.glob("*.warc.gz"))
    alone = crawl("all", tmp_path / "alone", f"NEWS_REPLAY_WARC={later}")
    assert alone.returncode == 0, alone.log[-2000:]
    (line,) = [x for x in alone.log.splitlines() if "pages only as revalidations" in x]
    assert f"{revalidated} pages" in line and earlier.name in line
    assert alone.stats["news/skipped/revalidation_only"] > 0
    whole = crawl("all", tmp_path / "whole", f"NEWS_REPLAY_WARC={warc}")
    assert set(whole.by_url()) == set(first.by_url())
    assert not [x for x in whole.log.splitlines() if "pages only as revalidations" in x]


def test_a_gzipped_response_replays_from_the_warc(site: FixtureProxy, tmp_path: Path) -> None:
    """Servers send gzip: the WARC keeps the body as it came, with its Content-Encoding, and
    replay decodes it as the live crawl did."""
    url = SEEDS["000"]["url"]
    saved = MANIFEST.get(url)
    assert saved is not None
    headers = {**saved.headers, "Content-Encoding": "gzip"}
    headers.pop("Content-Length", None)
    site.changes[url] = Page(gzip.compress(saved.path.read_bytes()), 200, headers)
    recorded = live(site, tmp_path / "live", f"NEWS_WARC_DIR={tmp_path / 'warc'}")
    assert url in recorded.by_url(), recorded.log[-2000:]
    replayed = crawl("all", tmp_path / "replay", f"NEWS_REPLAY_WARC={tmp_path / 'warc'}")
    assert replayed.by_url()[url]["text"] == recorded.by_url()[url]["text"]


def test_one_article_extracted_twice_in_a_run_is_stored_once(tmp_path) -> None:
    # Two pages of one run can resolve to one article URL (a variant whose canonical link was
    # not known before fetching): the longer text is kept, the shorter dropped.
    from dataclasses import replace

    from scrapy.exceptions import DropItem
    from scrapy.utils.project import get_project_settings
    from scrapy.utils.test import get_crawler

    from crawler.extensions import StateExtension
    from crawler.items import Article
    from crawler.spiders.outlets import SPIDERS
    from pipelines.state import StatePipeline

    settings = get_project_settings().copy_to_dict()
    settings["NEWS_STATE_DIR"] = str(tmp_path / "state")
    crawler = get_crawler(SPIDERS["all"], settings_dict=settings)
    state = StateExtension(crawler)
    pipeline = StatePipeline(state, crawler.stats)
    pipeline.open_spider()
    article = Article(
        url="https://kyivindependent.com/a-story/",
        outlet="kyiv_independent",
        title="A story",
        authors=[],
        published="2024-10-23",
        language="en",
        text="one two three four",
        word_count=4,
        content_hash="a" * 64,
        fetched_at="2024-10-23T13:00:00+00:00",
    )
    longer = replace(article, text="one two three four five", word_count=5, content_hash="b" * 64)
    assert pipeline.process_item(article) is article
    assert pipeline.process_item(longer) is longer
    with pytest.raises(DropItem, match="same_url"):
        pipeline.process_item(article)
    assert crawler.stats.get_value("news/grouping/same_url") == 2
    assert state.store.content_hash(article.url) == "b" * 64
    state.store.release()
