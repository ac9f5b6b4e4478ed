"""The faults a hostile web throws at a live crawl, injected by the local server
(tests/fixture_server.py) while it plays the four outlets, and what the crawl must make of each.

Used by tests/test_faults.py (which asserts every expectation) and bench/faults.py (which prints
the table in docs/live.md). Everything here is synthetic: the fault pages, the links added to
the listing pages, the entity bombs. Faults on the seed articles are transient (the first one or
two requests fail): the article must still be exported. Faults on the pages under /fault-.../
are permanent: each must give one log line naming the page, one stats counter, and nothing in
the feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crawler.offline import Manifest
from tests.conftest import MANIFEST, CrawlResult, crawl
from tests.fixture_server import LIVE_SETTINGS, Fault, FixtureProxy, Page
from tests.seeds import SEEDS

KI = "https://kyivindependent.com"
AGGREGATOR = "https://news-aggregator.example"
LISTING = f"{KI}/tag/north-korea/"  # the fault pages are linked from here
AGGREGATOR_LISTING = f"{AGGREGATOR}/category/world/"
BOMBED_FEED = f"{KI}/rss/"
BOMBED_SITEMAP = f"{AGGREGATOR}/sitemap-news.xml"
# the crawl's settings: short timeouts and waits so the faults play out in seconds
SETTINGS = (
    *LIVE_SETTINGS,
    "DOWNLOAD_TIMEOUT=2",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "RETRY_TIMES=2",
    "NEWS_RETRY_BACKOFF=0.05",
    "NEWS_RETRY_AFTER_MAX=5",
)


@dataclass(frozen=True)
class Case:
    """One injected fault: `fault` on `url`; `expect` is "exported" (the article survives a
    transient fault) or the stats counter under news/ that must count it ("errors/http_500",
    "skipped/offsite", ...); `extra` holds further pages the fault serves (a redirect's
    target, say)."""

    name: str
    url: str
    fault: Fault | None
    expect: str
    extra: tuple[tuple[str, Fault], ...] = ()


def _page(slug: str) -> str:
    return f"{KI}/{slug}/"


def _respond(status: int, headers: dict[str, str] | None = None, times: int | None = None) -> Fault:
    return Fault("respond", status, headers or {}, f"<h1>{status}</h1>".encode(), times)


def _entity_bomb(root: str, inner: str) -> bytes:
    """A "billion laughs" document: ten levels of ten references, 10^9 'lol's if expanded."""
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE {root} [\n  '
        + "\n  ".join(entities)
        + f"\n]>\n{inner}\n"
    ).encode()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(2000)
MALFORMED = (
    "https://kyivindependent.com:99999/port-out-of-range/",
    "http://[kyivindependent.com/broken-ipv6-host/",
)

CASES: tuple[Case, ...] = (
    # transient faults on the seed articles: retried, then exported
    Case(
        "503 with Retry-After: 1, once",
        SEEDS["000"]["url"],
        _respond(503, {"Retry-After": "1"}, times=1),
        "exported",
    ),
    Case(
        "429 with Retry-After: 1, once",
        SEEDS["001"]["url"],
        _respond(429, {"Retry-After": "1"}, times=1),
        "exported",
    ),
    Case("connection reset, once", SEEDS["002"]["url"], Fault("reset", times=1), "exported"),
    Case("500, twice", SEEDS["003"]["url"], _respond(500, times=2), "exported"),
    # charsets: the page must be exported with its text intact
    Case(
        "wrong charset (windows-1251 served as utf-8)",
        SEEDS["004"]["url"],
        Fault("respond", headers={"Content-Type": "text/html; charset=utf-8"}),
        "exported",
    ),
    Case(
        "missing charset (windows-1251, declared nowhere)",
        f"{AGGREGATOR}/2024/11/02/russia-deploys-over-7000-north-korean-troops-to-border-with-"
        "ukraine/",
        Fault("respond", headers={"Content-Type": "text/html"}),
        "exported",
    ),
    # permanent faults: one line, one counter, nothing exported
    Case("500, always", _page("fault-http-500"), _respond(500), "errors/http_500"),
    Case(
        "503 without Retry-After, always", _page("fault-http-503"), _respond(503), "errors/http_503"
    ),
    Case(
        "503 with Retry-After: 3600",
        _page("fault-retry-after-long"),
        _respond(503, {"Retry-After": "3600"}),
        "errors/retry_after_too_long",
    ),
    Case(
        "429 with Retry-After: 1, always",
        _page("fault-http-429"),
        _respond(429, {"Retry-After": "1"}),
        "errors/http_429",
    ),
    Case(
        "connection reset, always", _page("fault-reset"), Fault("reset"), "errors/connection_failed"
    ),
    Case("slow drip past the timeout", _page("fault-slow-drip"), Fault("drip"), "errors/timeout"),
    Case("hang past the timeout", _page("fault-hang"), Fault("hang"), "errors/timeout"),
    Case(
        "truncated body (half of seed 001 under its full Content-Length)",
        _page("fault-truncated"),
        Fault("truncate", body=b""),  # the body is filled in by `install`
        "skipped/truncated",
    ),
    Case(
        "gzip bomb (64 MiB of zeros in 64 KiB)",
        _page("fault-gzip-bomb"),
        Fault("gzip_bomb"),
        "errors/decompression_bomb",
    ),
    Case(
        "50 MB page with Content-Length",
        _page("fault-huge-page"),
        Fault("huge"),
        "errors/too_large",
    ),
    Case(
        "50 MB page, no Content-Length",
        _page("fault-huge-stream"),
        Fault("stream"),
        "errors/too_large",
    ),
    Case(
        "redirect loop",
        _page("fault-redirect-loop"),
        _respond(302, {"Location": _page("fault-redirect-loop-b")}),
        "errors/redirect_loop",
        extra=(
            (
                _page("fault-redirect-loop-b"),
                _respond(302, {"Location": _page("fault-redirect-loop")}),
            ),
        ),
    ),
    Case(
        "redirect to another domain",
        _page("fault-redirect-offsite"),
        _respond(302, {"Location": "https://tracker.example/landing"}),
        "skipped/offsite",
    ),
    Case(
        "redirect to a private address",
        _page("fault-redirect-private"),
        _respond(302, {"Location": "http://10.0.0.1/admin"}),
        "skipped/private_address",
    ),
    Case(
        "redirect to loopback",
        _page("fault-redirect-loopback"),
        _respond(301, {"Location": "http://127.0.0.1:1/"}),
        "skipped/private_address",
    ),
    Case(
        "PDF",
        _page("fault-pdf"),
        Fault("respond", headers={"Content-Type": "application/pdf"}, body=PDF),
        "skipped/not_html",
    ),
    Case(
        "JPEG image",
        _page("fault-image"),
        Fault("respond", headers={"Content-Type": "image/jpeg"}, body=JPEG),
        "skipped/not_html",
    ),
    Case(
        "JSON",
        _page("fault-json"),
        Fault("respond", headers={"Content-Type": "application/json"}, body=b'{"error": null}'),
        "skipped/not_html",
    ),
    Case(
        "XML entity bomb in a feed",
        BOMBED_FEED,
        Fault(
            "respond",
            headers={"Content-Type": "application/rss+xml; charset=utf-8"},
            body=_entity_bomb(
                "rss",
                '<rss version="2.0"><channel><title>&lol9;</title><item>'
                f"<link>{_page('fault-linked-from-bombed-feed')}</link></item></channel></rss>",
            ),
        ),
        "errors/xml_entities",
    ),
    Case(
        "XML entity bomb in a sitemap",
        BOMBED_SITEMAP,
        Fault(
            "respond",
            headers={"Content-Type": "application/xml; charset=utf-8"},
            body=_entity_bomb(
                "urlset",
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
                f"{AGGREGATOR}/2024/11/03/linked-from-bombed-sitemap/</loc>"
                "<lastmod>&lol9;</lastmod></url></urlset>",
            ),
        ),
        "errors/xml_entities",
    ),
    Case(
        f"{len(MALFORMED)} malformed URLs on a listing page",
        LISTING,
        None,
        "skipped/malformed_url",
    ),
    Case(
        "duplicate links on a listing page (4 links to one article)",
        AGGREGATOR_LISTING,
        None,
        "fetched once",
    ),
)
# pages the entity bombs link to: reading them would mean the bomb was parsed
NEVER_REQUESTED = (
    _page("fault-linked-from-bombed-feed"),
    f"{AGGREGATOR}/2024/11/03/linked-from-bombed-sitemap/",
    "https://tracker.example/landing",
    "http://10.0.0.1/admin",
    "http://127.0.0.1:1/",
)
DUPLICATED = (
    f"{AGGREGATOR}/2024/10/24/north-korean-troops-dispatch-was-secret-clause-of-moscow-"
    "pyongyang-pact-wsj-reports/"
)


def _with_links(manifest: Manifest, url: str, hrefs: list[str]) -> Page:
    """The saved listing page with a list of extra links before </main>."""
    saved = manifest.get(url)
    assert saved is not None, url
    items = "".join(f'<li><a href="{href}">{href.rsplit("/", 2)[-2]}</a></li>' for href in hrefs)
    html = saved.path.read_bytes().replace(
        b"</main>", f'<ul class="more-stories">{items}</ul>\n</main>'.encode(), 1
    )
    headers = {
        k: v for k, v in saved.headers.items() if k.lower() not in ("etag", "content-length")
    }
    return Page(html, saved.status, headers)


def install(server: FixtureProxy) -> None:
    """Put every case on the server: faults, extra links on the listing pages, the bombed
    sitemap in the aggregator's robots.txt."""
    manifest: Manifest = server.manifest
    for case in CASES:
        fault = case.fault
        if fault is None:
            continue
        if fault.kind == "truncate":
            saved = manifest.get(SEEDS["001"]["url"])
            assert saved is not None
            fault = Fault("truncate", body=saved.path.read_bytes())
        if fault.kind == "respond" and fault.status == 200 and not fault.body:
            saved = manifest.get(case.url)
            assert saved is not None, case.url
            fault = Fault("respond", 200, fault.headers, saved.path.read_bytes())
        server.faults[case.url] = fault
        server.faults.update(dict(case.extra))
    fault_pages = [c.url for c in CASES if c.url.startswith(f"{KI}/fault-")]
    server.changes[LISTING] = _with_links(manifest, LISTING, [*fault_pages, *MALFORMED])
    server.changes[AGGREGATOR_LISTING] = _with_links(
        manifest,
        AGGREGATOR_LISTING,
        [DUPLICATED, DUPLICATED + "?utm_source=twitter", DUPLICATED + "#comments"],
    )
    robots = manifest.get(f"{AGGREGATOR}/robots.txt")
    assert robots is not None
    server.changes[f"{AGGREGATOR}/robots.txt"] = Page(
        robots.path.read_bytes() + f"Sitemap: {BOMBED_SITEMAP}\n".encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )


@dataclass
class FaultCrawl:
    result: CrawlResult
    requests: list[str]  # every URL the server was asked for
    hits: dict[str, int]


def run(out: Path, faults: bool = True) -> FaultCrawl:
    """`scrapy crawl all` in live mode through the local server, with every case installed
    (or none: the same crawl of the well-behaved sites, for comparison)."""
    with FixtureProxy(MANIFEST) as server:
        if faults:
            install(server)
        env = server.env()
        result = crawl("all", out, *SETTINGS, env=env)
        requests = list(server.requests)
    hits: dict[str, int] = {}
    for url in requests:
        hits[url] = hits.get(url, 0) + 1
    return FaultCrawl(result, requests, hits)
