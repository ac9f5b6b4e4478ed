"""The main job end to end: `scrapy crawl all` through the real engine over the saved pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import ROOT, CrawlResult, read_jsonl, run_scrapy
from tests.seeds import CHROME, SEEDS

SCHEMA = json.loads((ROOT / "crawler" / "schemas" / "article.schema.json").read_text("utf-8"))
CLUSTER_SCHEMA = json.loads(
    (ROOT / "crawler" / "schemas" / "cluster.schema.json").read_text("utf-8")
)


COPY_001 = (
    "https://news-aggregator.example/2024/10/24/north-korean-troops-dispatch-was-secret-clause-"
    "of-moscow-pyongyang-pact-wsj-reports/"
)
CUT_003 = (
    "https://news-aggregator.example/2024/11/02/russia-deploys-over-7000-north-korean-troops-"
    "to-border-with-ukraine/"
)


def test_one_article_per_seed_plus_the_syndicated_copies(offline_crawl: CrawlResult) -> None:
    urls = [a["url"] for a in offline_crawl.articles]
    assert len(urls) == len(set(urls)) == len(SEEDS) + 2
    assert set(urls) == {s["url"] for s in SEEDS.values()} | {COPY_001, CUT_003}
    assert len({a["outlet"] for a in offline_crawl.articles}) == 4


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_each_article_has_its_title_date_outlet_and_no_chrome(
    offline_crawl: CrawlResult, seed: str
) -> None:
    want = SEEDS[seed]
    article = offline_crawl.by_url()[want["url"]]
    assert (article["title"], article["published"], article["outlet"]) == (
        want["title"],
        want["published"],
        want["outlet"],
    )
    assert [c for c in CHROME if c in article["text"]] == []


def test_feed_lines_validate_against_the_schemas(offline_crawl: CrawlResult) -> None:
    articles = jsonschema.Draft202012Validator(SCHEMA)
    clusters = jsonschema.Draft202012Validator(CLUSTER_SCHEMA)
    for article in offline_crawl.articles:
        assert list(articles.iter_errors(article)) == []
        assert article["cluster_id"] and article["relation"]
    for cluster in offline_crawl.clusters:
        assert list(clusters.iter_errors(cluster)) == []


def test_the_three_wsj_versions_form_one_cluster_citing_the_wsj(offline_crawl: CrawlResult) -> None:
    wsj = offline_crawl.cluster_of(SEEDS["000"]["url"])
    members = {m["url"]: m for m in wsj["members"]}
    assert set(members) == {SEEDS[s]["url"] for s in ("000", "001", "002")} | {COPY_001}
    assert wsj["cited_source"] == "The Wall Street Journal"
    # the Kyiv Independent's version is the earliest (13:05 UTC); the others re-report it
    assert wsj["original"]["url"] == SEEDS["001"]["url"]
    assert members[SEEDS["000"]["url"]]["relation"] == "rewrite"
    assert members[SEEDS["002"]["url"]]["relation"] == "rewrite"
    assert members[COPY_001]["relation"] == "duplicate"
    lags = {lag["outlet"]: lag for lag in wsj["outlet_lags"]}
    assert lags["espreso_global"]["lag_seconds"] == 6240  # 17:49 +03:00 vs 13:05 UTC
    assert lags["rbc_ukraine"] == {**lags["rbc_ukraine"], "lag_seconds": None, "lag_days": 0}


def test_other_stories_stay_apart_and_copies_join_their_source(offline_crawl: CrawlResult) -> None:
    wsj = offline_crawl.by_url()[SEEDS["000"]["url"]]["cluster_id"]
    seed_003 = offline_crawl.cluster_of(SEEDS["003"]["url"])
    seed_004 = offline_crawl.cluster_of(SEEDS["004"]["url"])
    assert len({wsj, seed_003["id"], seed_004["id"]}) == 3
    assert {m["url"] for m in seed_003["members"]} == {SEEDS["003"]["url"], CUT_003}
    assert [m["url"] for m in seed_004["members"]] == [SEEDS["004"]["url"]]
    assert offline_crawl.by_url()[CUT_003]["relation"] == "duplicate"
    assert len(offline_crawl.clusters) == 3


def test_amp_and_tracking_variants_resolve_to_their_article(offline_crawl: CrawlResult) -> None:
    # the news sitemap lists seed 002's AMP page: the outlet's url_rewrites turn it into the
    # article's URL before any request, so it is neither fetched nor reported as not saved
    amp = SEEDS["002"]["url"].replace("rbc.ua/news/", "rbc.ua/amp/news/")
    assert amp in (ROOT / "fixtures" / "newsukraine.rbc.ua" / "sitemap-news.xml").read_text()
    assert "/amp/" not in offline_crawl.log
    assert [a["url"] for a in offline_crawl.articles].count(SEEDS["002"]["url"]) == 1
    assert not any("/amp/" in a["url"] or "utm_" in a["url"] for a in offline_crawl.articles)


def test_schema_rejects_what_the_feed_must_not_contain() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good = json.loads((ROOT / "tests" / "expected" / "001.json").read_text("utf-8"))
    good["text"] = "\n\n".join(good.pop("paragraphs"))
    good["fetched_at"] = "2026-01-01T00:00:00+00:00"
    good.update(cluster_id="c0123456789ab", relation="rewrite", similarity=0.2)
    assert validator.is_valid(good)
    for field, value in [
        ("published", "23 October 2024"),
        ("url", "kyivindependent.com/x/"),
        ("authors", "Kateryna Denisova"),
        ("content_hash", "abc"),
        ("html", "<p>x</p>"),
        ("relation", "copy"),
        ("similarity", 1.5),
    ]:
        assert not validator.is_valid({**good, field: value}), field


def test_bad_pages_are_reported_and_the_crawl_goes_on(offline_crawl: CrawlResult) -> None:
    stats, log = offline_crawl.stats, offline_crawl.log
    assert stats["news/skipped/empty"] == 1
    assert stats["news/skipped/truncated"] == 1
    assert stats["news/skipped/not_html"] == 1
    assert stats["news/skipped/not_article"] == 1
    assert stats["news/errors/http_404"] == 1
    assert stats["news/errors/http_500"] == 1
    assert stats["retry/reason_count/HTTP 500"] == 2
    assert stats["news/charset/undeclared"] >= 1
    assert stats["finish_reason"] == "finished"
    for url, reason in [
        (
            "https://global.espreso.tv/ukraine-and-south-korea-discuss-intelligence-sharing-on-"
            "north-korean-troops",
            "empty",
        ),
        (
            "https://kyivindependent.com/south-korea-summons-russian-ambassador-over-north-korean-"
            "troop-deployment/",
            "truncated",
        ),
        ("https://news-aggregator.example/2024/10/29/intercepted-calls-transcript/", "not_html"),
        ("https://kyivindependent.com/explaining-ukraine/", "not_article"),
    ]:
        lines = [line for line in log.splitlines() if f"Skipped {url}: {reason}" in line]
        assert len(lines) == 1, (url, reason)


def test_pages_that_are_not_saved_are_reported_one_line_each(offline_crawl: CrawlResult) -> None:
    missing = re.findall(
        r"Skipped (\S+): offline, and not saved \(linked from (\S+)\)", offline_crawl.log
    )
    assert len(missing) == offline_crawl.stats["news/skipped/not_saved"] > 0
    assert offline_crawl.stats["offline/missing"] == len(missing)
    urls = [url for url, _ in missing]
    assert len(urls) == len(set(urls))  # each missing page is asked for once
    assert "https://global.espreso.tv/news?page=3" in urls


def test_redirected_and_tracked_links_lead_to_one_fetch(offline_crawl: CrawlResult) -> None:
    stats = offline_crawl.stats
    assert stats["downloader/response_status_count/301"] == 1
    urls = [a["url"] for a in offline_crawl.articles]
    assert len(urls) == len(set(urls))
    assert not any("utm_" in u or "north-korea-troops-secret-clause-wsj" in u for u in urls)


def test_undeclared_windows_1251_page_is_decoded(offline_crawl: CrawlResult) -> None:
    article = offline_crawl.by_url()[SEEDS["004"]["url"]]
    assert "Ukraine’s defense intelligence agency" in article["text"]
    assert "â€" not in article["text"] and "\ufffd" not in article["text"]
    assert "decoding it as windows-1251 (outlet default)" in offline_crawl.log


def test_run_ends_with_a_readable_summary(offline_crawl: CrawlResult) -> None:
    summary = offline_crawl.log[offline_crawl.log.rindex("Run summary") :]
    assert re.search(r"articles new or changed\s+7\b", summary)
    assert re.search(r"articles in the feed\s+7\b", summary)
    assert re.search(r"syndication clusters\s+3\b", summary)
    assert re.search(r"pages fetched\s+\d+", summary)
    assert re.search(r"pages skipped\s+\d+\n(    \S+\s+\d+\n)*    not_saved\s+\d+", summary)
    assert re.search(r"errors\s+2\n    http_404\s+1\n    http_500\s+1\n", summary)
    assert re.search(r"time taken\s+[\d.]+ s", summary)


def test_the_snapshot_is_where_the_readme_says() -> None:
    from scrapy.utils.project import get_project_settings

    readme = (ROOT / "README.md").read_text("utf-8")
    assert get_project_settings()["NEWS_OUTPUT_DIR"] == "out"
    for name in ("out/articles.jsonl", "out/clusters.jsonl", "make run", "make test"):
        assert name in readme


def test_o_streams_articles_as_extracted_beside_the_snapshot(tmp_path: Path) -> None:
    """What the README says of -O, exactly: it streams the articles this run extracts (new or
    changed: an earlier run's unchanged ones are not extracted again, so a second run writes an
    empty file), beside the snapshot, which always holds the whole feed."""
    stream = tmp_path / "stream.jsonl"

    def run() -> list[dict[str, Any]]:
        proc = run_scrapy(
            "crawl",
            "rbc_ukraine",
            "-O",
            str(stream),
            "-s",
            f"NEWS_OUTPUT_DIR={tmp_path}/snapshot",
            "-s",
            f"NEWS_STATE_DIR={tmp_path}/state",
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        return [json.loads(line) for line in stream.read_text("utf-8").splitlines()]

    streamed = run()
    snapshot = read_jsonl(tmp_path / "snapshot" / "articles.jsonl")
    assert streamed and {a["url"] for a in streamed} == {a["url"] for a in snapshot}
    assert all(a["cluster_id"] is None for a in streamed)  # grouping happens at the end
    assert all(a["cluster_id"] for a in snapshot)
    assert run() == []  # nothing new: -O replaces the file with an empty one
    assert read_jsonl(tmp_path / "snapshot" / "articles.jsonl") == snapshot
