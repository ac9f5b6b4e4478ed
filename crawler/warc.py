"""WARC: record what a crawl receives, and replay it offline.

`WarcRecorder` (an extension, on when NEWS_WARC_DIR is set) writes every response the
downloader receives — status, headers and body as they came, before any middleware — to
`NEWS_WARC_DIR/<run>.warc.gz`, one gzip member per record, so a file cut short by a crash is
readable up to its last whole record. A 304 answer to a conditional GET (a run with state asks
for unchanged pages that way) is a `revisit` record (profile server-not-modified): it holds no
body. A body cut short in transfer is marked `WARC-Truncated: disconnect`.

`WarcArchive` reads such files back for offline mode (NEWS_REPLAY_WARC: a file or a folder of
them): yesterday's live crawl can be processed again with new settings, through the same engine,
spiders and pipelines. For a URL recorded several times, the last 200 response is replayed (or
the last response, if none was a 200); a truncated one replays truncated. A page the archive
holds only as revalidations has no body to replay: `revalidation_only` lists them, and
`bodies_beside` finds the WARC files in the same folder that hold their bodies (replay the
folder to use them).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# Headers that describe the transfer, not the content: replayed bodies are already decoded.
_TRANSFER_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


class WarcRecorder:
    def __init__(self, crawler: Crawler, directory: Path):
        self.directory = directory
        self.stats = crawler.stats
        self._file: IO[bytes] | None = None
        self._writer: WARCWriter | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcRecorder:
        directory = crawler.settings.get("NEWS_WARC_DIR")
        if not directory:
            raise NotConfigured
        return cls(crawler, Path(directory))

    def spider_opened(self, spider: Spider) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.directory / f"{stamp}-{spider.name}.warc.gz"
        n = 1
        while path.exists():
            n += 1
            path = self.directory / f"{stamp}-{spider.name}-{n}.warc.gz"
        self._file = path.open("wb")
        self._writer = WARCWriter(self._file, gzip=True)
        info = self._writer.create_warcinfo_record(
            path.name, {"software": "syndication-crawler", "format": "WARC File Format 1.1"}
        )
        self._writer.write_record(info)
        logger.info("Recording responses to %(path)s", {"path": path})

    def response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        if self._writer is None:
            return
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items()
            for value in values
        ]
        status = f"{response.status} {_reason(response.status)}"
        http_headers = StatusAndHeaders(status, headers, protocol=response.protocol or "HTTP/1.1")
        if response.status == 304:
            record = self._writer.create_warc_record(
                response.url,
                "revisit",
                http_headers=http_headers,
                warc_headers_dict={"WARC-Profile": NOT_MODIFIED},
            )
        else:
            truncated = {"WARC-Truncated": "disconnect"} if "dataloss" in response.flags else {}
            record = self._writer.create_warc_record(
                response.url,
                "response",
                payload=io.BytesIO(response.body),
                http_headers=http_headers,
                warc_headers_dict=truncated,
            )
        self._writer.write_record(record)
        assert self._file is not None
        self._file.flush()
        if self.stats is not None:
            self.stats.inc_value("news/warc/records")

    def spider_closed(self, spider: Spider) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


@dataclass(frozen=True)
class ArchivedPage:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool = False  # cut short in transfer when it was recorded

    def read(self) -> bytes:
        return self.body


class WarcArchive:
    """URL -> the recorded response, from one WARC file or a folder of them."""

    def __init__(self, path: str | Path):
        path = Path(path)
        self.path = path
        self.files = _warc_files(path) if path.is_dir() else [path]
        if not self.files:
            raise ValueError(f"no WARC files at {path}")
        self._index: dict[str, tuple[Path, int, int]] = {}  # url -> (file, offset, status)
        revalidated: set[str] = set()
        for file in self.files:
            for url, status, offset in _records(file):
                if status == 304:  # a revisit (or an old-style 304 response): no body
                    revalidated.add(url)
                    continue
                known = self._index.get(url)
                if known is None or status == 200 or known[2] != 200:
                    self._index[url] = (file, offset, status)
        self.revalidation_only = frozenset(revalidated - set(self._index))
        self.pages = len(self._index)

    def get(self, url: str) -> ArchivedPage | None:
        found = self._index.get(url)
        if found is None:
            return None
        file, offset, status = found
        with file.open("rb") as f:
            f.seek(offset)
            record = next(iter(ArchiveIterator(f)))
            headers = {
                name: value
                for name, value in record.http_headers.headers
                if name.lower() not in _TRANSFER_HEADERS
            }
            truncated = record.rec_headers.get_header("WARC-Truncated") is not None
            return ArchivedPage(url, status, headers, record.content_stream().read(), truncated)

    def bodies_beside(self) -> dict[str, int]:
        """For a single replayed file: {name of another WARC file in its folder: how many of
        the pages this one holds only as revalidations it has a 200 body for}."""
        wanted = set(self.revalidation_only)
        if not wanted or self.path.is_dir():
            return {}
        found: dict[str, int] = {}
        for file in _warc_files(self.path.parent):
            if file in self.files:
                continue
            have = {url for url, status, _ in _records(file) if status == 200} & wanted
            if have:
                found[file.name] = len(have)
        return found

    def __len__(self) -> int:
        return self.pages


def _warc_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.warc.gz")) + sorted(folder.glob("*.warc"))


def _records(file: Path) -> list[tuple[str, int, int]]:
    """(URL, HTTP status, offset) of each response or revisit record of a WARC file."""
    found = []
    with file.open("rb") as f:
        records = ArchiveIterator(f)
        for record in records:
            if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            status = int(record.http_headers.get_statuscode() or 0)
            if record.rec_type == "revisit":
                status = 304
            found.append((url, status, records.get_record_offset()))
    return found


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
