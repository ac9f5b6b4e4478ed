"""Live mode (offline off) against a local server on 127.0.0.1 that plays the outlets.

The same spiders and pipelines as the offline crawl, but through Scrapy's real HTTP/1.1 handler,
CONNECT tunnels and TLS over loopback (tests/fixture_server.py); no request leaves the machine.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import MANIFEST, CrawlResult, crawl
from tests.fixture_server import FixtureProxy

NO_DELAYS = ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=0")


def test_live_crawl_matches_the_offline_crawl(tmp_path: Path, offline_crawl: CrawlResult) -> None:
    with FixtureProxy(MANIFEST) as server:
        env = {"SCRAPY_PROJECT": "live", "https_proxy": server.url, "http_proxy": server.url}
        live = crawl("all", tmp_path, *NO_DELAYS, env=env)
        asked = list(server.requests)
    assert live.returncode == 0, live.log[-3000:]
    assert "Offline mode" not in live.log, live.log[:3000]
    # every outlet was reached over the network path, robots.txt first
    hosts = {urlsplit(url).hostname for url in asked}
    assert hosts == {urlsplit(p.url).hostname for p in MANIFEST.pages}
    assert all(f"https://{h}/robots.txt" in asked for h in hosts)
    # every response came from the local server: nothing went anywhere else
    assert live.stats["downloader/response_count"] == len(asked)

    def comparable(result: CrawlResult) -> dict[str, dict[str, object]]:
        return {
            u: {k: v for k, v in a.items() if k != "fetched_at"} for u, a in result.by_url().items()
        }

    assert comparable(live) == comparable(offline_crawl)
    # the server really cut the truncated page short: Scrapy's handler flagged the data loss
    assert live.stats["news/skipped/truncated"] == 1
    # pages that are not saved are 404s from the server instead of offline misses
    assert "offline/missing" not in live.stats
    assert live.stats["news/errors/http_404"] == (offline_crawl.stats["offline/missing"] + 1)
