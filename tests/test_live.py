"""Live mode (offline off) against a local server on 127.0.0.1 that plays the outlets.

The same spiders and pipelines as the offline crawl, but through Scrapy's real HTTP/1.1 handler,
CONNECT tunnels and TLS over loopback (tests/fixture_server.py); no request leaves the machine.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import MANIFEST, CrawlResult, crawl
from tests.dns_server import DnsServer
from tests.fixture_server import LIVE_SETTINGS, FixtureProxy


def test_live_crawl_matches_the_offline_crawl(tmp_path: Path, offline_crawl: CrawlResult) -> None:
    with FixtureProxy(MANIFEST) as server:
        env = server.env()
        live = crawl("all", tmp_path, *LIVE_SETTINGS, env=env)
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
    # certificates were verified (the test CA was passed as SSL_CERT_FILE), and it says nothing
    assert "NOT verified" not in live.log


# -- TLS: a man in the middle ---------------------------------------------------------------------


@pytest.mark.parametrize("certificate", ["self_signed", "other_host"])
def test_a_certificate_that_does_not_verify_is_refused(tmp_path: Path, certificate: str) -> None:
    """Through a proxy that presents a certificate no trusted CA signed, or the trusted test
    CA's certificate for another host, nothing is exported: each page is `tls_invalid`, one line
    each, not retried."""
    with FixtureProxy(MANIFEST, certificate=certificate) as server:
        result = crawl("kyiv_independent", tmp_path, *LIVE_SETTINGS, env=server.env())
    assert result.returncode == 0, result.log[-3000:]
    assert result.articles == []
    failed = [line for line in result.log.splitlines() if ": tls_invalid: " in line]
    assert failed and all(
        line.split("] ")[1].startswith("WARNING: Failed https://") for line in failed
    )
    why = "does not name the host" if certificate == "other_host" else "not signed by a trusted CA"
    assert all(why in line for line in failed)
    # every start point (robots.txt, the feed, the listing) failed on its certificate, once
    assert result.stats["news/errors/tls_invalid"] == len(failed) == 3
    assert "retry/count" not in result.stats
    assert "Traceback" not in result.log


def test_verification_can_be_turned_off_and_the_summary_says_so(tmp_path: Path) -> None:
    with FixtureProxy(MANIFEST, certificate="self_signed") as server:
        off = crawl(
            "kyiv_independent",
            tmp_path,
            *LIVE_SETTINGS,
            "DOWNLOAD_VERIFY_CERTIFICATES=False",
            env=server.env(),
        )
    assert off.returncode == 0, off.log[-3000:]
    assert off.articles and "news/errors/tls_invalid" not in off.stats
    summary = off.log[off.log.index("Run summary") :]
    assert "TLS certificates NOT verified: DOWNLOAD_VERIFY_CERTIFICATES is off" in summary


# -- addresses: checked on the connection itself ----------------------------------------------


def _direct(tmp_path: Path, dns: DnsServer, *settings: str) -> CrawlResult:
    """A live crawl of one outlet with no proxy, its names resolved by `dns`."""
    return crawl(
        "kyiv_independent",
        tmp_path,
        *LIVE_SETTINGS,
        "RETRY_ENABLED=False",
        f"NEWS_DNS_SERVERS={dns.address}",
        *settings,
        env={"SCRAPY_PROJECT": "live"},
    )


def test_a_host_resolving_to_a_private_address_is_refused_on_the_connection(
    tmp_path: Path,
) -> None:
    """With the request-time check taken out, the connection's own resolution still refuses a
    loopback answer: nothing connects (nothing listens on 127.0.0.1:443, so a connection would
    be `connection_refused`). With loopback allowed, the same crawl does connect there."""
    no_check = 'DOWNLOADER_MIDDLEWARES={"crawler.live.PrivateAddressMiddleware": null}'
    with DnsServer({"kyivindependent.com": ["127.0.0.1"]}) as dns:
        refused = _direct(tmp_path / "refused", dns, no_check)
        allowed = _direct(tmp_path / "allowed", dns, no_check, "NEWS_ALLOW_LOOPBACK=True")
    assert refused.returncode == 0, refused.log[-3000:]
    assert refused.stats["news/skipped/private_address"] == 3
    assert "news/errors/connection_refused" not in refused.stats
    assert "refused: kyivindependent.com resolves to 127.0.0.1, not a public address" in refused.log
    assert allowed.stats["news/errors/connection_refused"] == 3


def test_a_second_dns_answer_cannot_lead_to_a_private_address(tmp_path: Path) -> None:
    """DNS rebinding: the first answer is public (the request-time check passes on it), every
    later one loopback, with a TTL of 0. Each connection is checked on its own answer: nothing
    connects to loopback."""
    with DnsServer({"kyivindependent.com": ["93.184.215.14", "127.0.0.1"]}) as dns:
        result = _direct(tmp_path, dns)
        asked = dns.queries["kyivindependent.com"]
    assert result.returncode == 0, result.log[-3000:]
    # the first answer (public) let one request through the request-time check; it was still
    # refused, so its connection asked again (concurrent identical questions are coalesced by
    # the resolver, so the count of questions varies from run to run)
    assert asked >= 2
    assert result.stats["news/skipped/private_address"] == 3
    assert "news/errors/connection_refused" not in result.stats
    assert "connection_failed" not in str(result.stats)


def test_a_host_that_does_not_resolve_is_not_requested(tmp_path: Path) -> None:
    """Fail closed: a name that does not resolve is `dns` (on the retry list), not requested;
    through a proxy the line names NEWS_PROXY_RESOLVES."""
    with DnsServer({}) as dns:
        direct = _direct(tmp_path / "direct", dns)
    assert direct.stats["news/errors/dns"] == 3
    with FixtureProxy(MANIFEST) as server:
        proxied = crawl("kyiv_independent", tmp_path / "proxied", env=server.env())
        reached = list(server.requests)
    assert proxied.stats["news/errors/dns"] == 3 and reached == []
    assert "NEWS_PROXY_RESOLVES=True lets the proxy resolve it" in proxied.log
