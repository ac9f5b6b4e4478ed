"""The main job end to end: `scrapy crawl all` through the real engine over the saved pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import ROOT, CrawlResult, run_scrapy
from tests.seeds import CHROME, SEEDS

SCHEMA = json.loads((ROOT / "crawler" / "schemas" / "article.schema.json").read_text("utf-8"))


def test_exactly_one_article_per_seed(offline_crawl: CrawlResult) -> None:
    articles = offline_crawl.by_url()
    assert len(offline_crawl.articles) == len(SEEDS) == 5
    assert set(articles) == {s["url"] for s in SEEDS.values()}
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


def test_feed_lines_validate_against_the_schema(offline_crawl: CrawlResult) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for article in offline_crawl.articles:
        assert list(validator.iter_errors(article)) == []


def test_schema_rejects_what_the_feed_must_not_contain() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good = json.loads((ROOT / "tests" / "expected" / "001.json").read_text("utf-8"))
    good["text"] = "\n\n".join(good.pop("paragraphs"))
    good["fetched_at"] = "2026-01-01T00:00:00+00:00"
    assert validator.is_valid(good)
    for field, value in [
        ("published", "23 October 2024"),
        ("url", "kyivindependent.com/x/"),
        ("authors", "Kateryna Denisova"),
        ("content_hash", "abc"),
        ("html", "<p>x</p>"),
    ]:
        assert not validator.is_valid({**good, field: value}), field


def test_bad_pages_are_reported_and_the_crawl_goes_on(offline_crawl: CrawlResult) -> None:
    stats, log = offline_crawl.stats, offline_crawl.log
    assert stats["news/skipped/empty"] == 1
    assert stats["news/skipped/truncated"] == 1
    assert stats["news/skipped/not_html"] == 1
    assert stats["news/skipped/not_article"] == 1
    assert stats["httperror/response_ignored_status_count/404"] == 1
    assert stats["httperror/response_ignored_status_count/500"] == 1
    assert stats["retry/reason_count/500 Internal Server Error"] == 2
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
        r"Offline: no saved copy of (\S+) \(linked from (\S+)\)", offline_crawl.log
    )
    assert len(missing) == offline_crawl.stats["offline/missing"] > 0
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
    assert re.search(r"articles exported\s+5\b", summary)
    assert re.search(r"pages fetched\s+\d+", summary)
    assert re.search(r"not saved \(offline\)\s+\d+", summary)
    assert re.search(r"time taken\s+[\d.]+ s", summary)


def test_the_default_feed_is_the_one_the_readme_names() -> None:
    from scrapy.utils.project import get_project_settings

    readme = (ROOT / "README.md").read_text("utf-8")
    assert get_project_settings()["NEWS_FEED"] == "out/articles.jsonl"
    assert "out/articles.jsonl" in readme and "make run" in readme and "make test" in readme


def test_a_crawl_told_to_write_elsewhere_leaves_the_default_feed_alone(tmp_path: Path) -> None:
    feed = tmp_path / "articles.jsonl"
    proc = run_scrapy(
        "crawl", "rbc_ukraine", "-O", str(feed), "-s", f"NEWS_FEED={tmp_path}/d.jsonl"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(feed.read_text("utf-8").splitlines()) == 1
    assert not (tmp_path / "d.jsonl").exists()
