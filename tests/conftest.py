"""Shared test helpers: the project's paths, saved pages as Scrapy responses, and one real
offline crawl (`scrapy crawl all`, as `make run` does) that several test modules inspect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.reactor import install_reactor

from crawler.offline import Manifest

# Spiders and middlewares are built from a real Crawler, which wants the reactor Scrapy uses.
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = Manifest.load(ROOT / "fixtures" / "manifest.json")
SCRAPY = [sys.executable, "-m", "scrapy"]


def fixture_response(url: str):
    """The saved page for `url` as the Response Scrapy would build for it."""
    saved = MANIFEST.get(url)
    assert saved is not None, f"{url} is not in fixtures/manifest.json"
    body = saved.path.read_bytes()
    headers = Headers(saved.headers)
    cls = responsetypes.from_args(headers=headers, url=url, body=body)
    return cls(url=url, status=saved.status, headers=headers, body=body)


def run_scrapy(
    *args: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # In-process tests that call get_project_settings() set SCRAPY_SETTINGS_MODULE in os.environ;
    # a subprocess must choose its settings from scrapy.cfg like a user's shell does.
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SCRAPY_") and not k.lower().endswith("_proxy")
    }
    env = {**base, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run(
        [*SCRAPY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class CrawlResult:
    articles: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    stats: dict[str, Any]
    log: str
    returncode: int

    def by_url(self) -> dict[str, dict[str, Any]]:
        return {a["url"]: a for a in self.articles}

    def cluster_of(self, url: str) -> dict[str, Any]:
        cluster_id = self.by_url()[url]["cluster_id"]
        return next(c for c in self.clusters if c["id"] == cluster_id)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def crawl(
    spider: str, out_dir: Path, *settings: str, env: dict[str, str] | None = None
) -> CrawlResult:
    """A real `scrapy crawl` in a subprocess; its snapshot, stats and (unless `settings` name
    another) its state under `out_dir`."""
    stats = out_dir / "stats.json"
    options = [x for setting in settings for x in ("-s", setting)]
    if not any(setting.startswith("NEWS_STATE_DIR=") for setting in settings):
        options += ["-s", f"NEWS_STATE_DIR={out_dir / 'state'}"]
    proc = run_scrapy(
        "crawl",
        spider,
        "-s",
        f"NEWS_OUTPUT_DIR={out_dir}",
        "-s",
        f"NEWS_STATS_FILE={stats}",
        *options,
        env=env,
    )
    return CrawlResult(
        articles=read_jsonl(out_dir / "articles.jsonl"),
        clusters=read_jsonl(out_dir / "clusters.jsonl"),
        stats=json.loads(stats.read_text("utf-8")) if stats.exists() else {},
        log=proc.stderr,
        returncode=proc.returncode,
    )


@pytest.fixture(scope="session")
def offline_crawl(tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    """`scrapy crawl all` over the fixtures, through the real engine, once per test session."""
    result = crawl("all", tmp_path_factory.mktemp("crawl-all"))
    assert result.returncode == 0, result.log[-3000:]
    return result


@pytest.fixture
def site() -> Iterator[Any]:
    """The loopback fixture server (tests/fixture_server.py) serving the saved pages; tests
    change pages or inject faults through it."""
    from tests.fixture_server import FixtureProxy

    with FixtureProxy(MANIFEST) as server:
        yield server
