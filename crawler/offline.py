"""Offline mode: the crawl runs through Scrapy's real engine, but bytes come from saved pages.

`FixtureDownloadHandler` replaces the http/https download handlers, so everything above the
transport — robots.txt, the downloader middleware chain (redirects, retries, decompression, our
charset fix), the spider, the pipelines and the feed export — runs exactly as in a live crawl.
Spiders cannot tell the two modes apart. `OfflineAddon` installs the handler when `NEWS_OFFLINE`
is on; it is on in `settings.base` and off in `settings.live`.

Saved pages are listed in a manifest (`fixtures/manifest.json`): URL -> file, status, headers.
With NEWS_REPLAY_WARC set, they come from WARC files recorded by an earlier crawl instead
(`crawler.warc`). A URL with no saved copy is reported as missing (one log line from
the spider's errback, `offline/missing` and `news/skipped/not_saved` stats) and the crawl goes on.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers
from scrapy.responsetypes import responsetypes
from scrapy.utils.asyncio import run_in_thread

from crawler.failures import Skip
from crawler.urls import clean_url
from crawler.warc import WarcArchive

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedPage:
    url: str
    path: Path
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    origin: str = "synthetic"
    note: str = ""
    # a saved page's truncation shows in its Content-Length header (WARC pages carry a flag)
    truncated: bool = False

    def read(self) -> bytes:
        return self.path.read_bytes()


class Manifest:
    """URL -> saved page, read from a manifest JSON file whose `file` paths are relative to it."""

    revalidation_only: frozenset[str] = frozenset()  # as WarcArchive's: a manifest has none

    def __init__(self, pages: list[SavedPage]):
        self.pages = pages
        self._by_url: dict[str, SavedPage] = {}
        for page in pages:
            for key in {page.url, clean_url(page.url)}:
                if key in self._by_url:
                    raise ValueError(f"manifest lists {key} twice")
                self._by_url[key] = page

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        path = Path(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
        root = path.parent
        pages = [
            SavedPage(
                url=e["url"],
                path=root / e["file"],
                status=int(e.get("status", 200)),
                headers=dict(e.get("headers", {})),
                origin=e.get("origin", "synthetic"),
                note=e.get("note", ""),
            )
            for e in doc["pages"]
        ]
        return cls(pages)

    def get(self, url: str) -> SavedPage | None:
        return self._by_url.get(url) or self._by_url.get(clean_url(url))

    def __len__(self) -> int:
        return len(self.pages)


class FixtureDownloadHandler(BaseDownloadHandler):
    """Download handler that answers from the manifest instead of the network."""

    lazy = False

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        warc = crawler.settings.get("NEWS_REPLAY_WARC")
        manifest_path = crawler.settings.get("NEWS_FIXTURES_MANIFEST")
        self.source: Manifest | WarcArchive
        if warc:
            self.source = _replayed(str(warc))
        elif manifest_path:
            self.source = Manifest.load(manifest_path)
        else:
            raise NotConfigured("neither NEWS_REPLAY_WARC nor NEWS_FIXTURES_MANIFEST is set")
        self.stats = crawler.stats

    async def download_request(self, request: Request) -> Response:
        saved = self.source.get(request.url)
        if saved is None and request.url in self.source.revalidation_only:
            raise Skip(
                "revalidation_only",
                "the WARC holds only a revalidation of it (HTTP 304), not its body",
            )
        if saved is None:
            assert self.stats is not None
            self.stats.inc_value("offline/missing")
            raise Skip("not_saved", f"offline, and not saved (linked from {_referer(request)})")
        headers = Headers(saved.headers)
        asked = {
            name: value.decode("latin-1")
            for name in ("If-None-Match", "If-Modified-Since")
            if (value := request.headers.get(name))
        }
        if not_modified(saved.headers, asked):
            return responsetypes.from_args(headers=headers, url=request.url)(
                url=request.url, status=304, headers=headers, body=b"", request=request
            )
        body = await run_in_thread(saved.read)
        flags = []
        declared = saved.headers.get("Content-Length")
        if saved.truncated or (declared is not None and int(declared) > len(body)):
            # What Scrapy's HTTP handler does with DOWNLOAD_FAIL_ON_DATALOSS off: keep the partial
            # body and flag it, so the same code path handles live and offline truncation.
            flags.append("dataloss")
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        return respcls(
            url=request.url,
            status=saved.status,
            headers=headers,
            body=body,
            flags=flags,
            request=request,
        )


def not_modified(page_headers: dict[str, str], request_headers: Mapping[str, str]) -> bool:
    """Whether a conditional request matches the saved page's validators, as a server would
    answer it: If-None-Match against ETag, else If-Modified-Since against Last-Modified."""
    page = {k.lower(): v for k, v in page_headers.items()}
    asked = {k.lower(): v for k, v in request_headers.items()}
    if "if-none-match" in asked:
        return "etag" in page and page["etag"] in {
            t.strip() for t in asked["if-none-match"].split(",")
        }
    return "if-modified-since" in asked and asked["if-modified-since"] == page.get("last-modified")


@functools.cache
def _replayed(path: str) -> WarcArchive:
    """The archive at `path`, indexed once per process (the http and https handlers share it),
    and said once what it cannot replay."""
    archive = WarcArchive(path)
    _tell_revalidations(archive)
    return archive


def _tell_revalidations(archive: WarcArchive) -> None:
    """One line when the replayed WARC holds pages only as revalidations (a run with state
    recorded 304s for them): how many, and where their bodies are."""
    n = len(archive.revalidation_only)
    if not n:
        return
    beside = archive.bodies_beside()
    if beside:
        where = ", ".join(f"{name} ({count})" for name, count in sorted(beside.items()))
        advice = (
            f"earlier WARC files beside it hold their bodies: {where}; replay the folder"
            f" (NEWS_REPLAY_WARC={archive.path.parent}) to use them"
        )
    else:
        advice = (
            "no WARC file beside it holds their bodies; a run recorded with fresh state"
            " (-s NEWS_STATE_RESET=1) fetches every page whole"
        )
    logger.warning(
        "%(path)s holds %(n)d pages only as revalidations (HTTP 304, no body): they are not"
        " replayed; %(advice)s",
        {"path": archive.path, "n": n, "advice": advice},
    )


def _referer(request: Request) -> str:
    value = request.headers.get("Referer")
    return value.decode("latin-1") if value else "a start point"


class OfflineAddon:
    """Scrapy add-on: with NEWS_OFFLINE on, http and https are served from the manifest."""

    def update_settings(self, settings: Settings) -> None:
        if not settings.getbool("NEWS_OFFLINE"):
            return
        handler = f"{FixtureDownloadHandler.__module__}.{FixtureDownloadHandler.__qualname__}"
        handlers: dict[str, Any] = dict(settings.getdict("DOWNLOAD_HANDLERS"))
        handlers.update({"http": handler, "https": handler})
        settings.set("DOWNLOAD_HANDLERS", handlers, priority="addon")
        logger.info(
            "Offline mode: pages come from %(source)s, not the network",
            {"source": settings.get("NEWS_REPLAY_WARC") or settings.get("NEWS_FIXTURES_MANIFEST")},
        )
