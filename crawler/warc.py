"""WARC: record what a crawl receives, and replay it offline.

`WarcRecorder` (an extension, on when NEWS_WARC_DIR is set) writes every response the
downloader receives — status, headers and body as they came, before any middleware — to
`NEWS_WARC_DIR/<run>.warc.gz`, one gzip member per record, so a file cut short by a crash is
readable up to its last whole record. `WarcArchive` reads such files back for offline mode
(NEWS_REPLAY_WARC: a file or a folder of them): yesterday's live crawl can be processed again
with new settings, through the same engine, spiders and pipelines. For a URL recorded several
times, the last 200 response is replayed (or the last response, if none was a 200).
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
        record = self._writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(response.body),
            http_headers=http_headers,
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

    def read(self) -> bytes:
        return self.body


class WarcArchive:
    """URL -> the recorded response, from one WARC file or a folder of them."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if path.is_dir():
            files = sorted(path.glob("*.warc.gz")) + sorted(path.glob("*.warc"))
        else:
            files = [path]
        if not files:
            raise ValueError(f"no WARC files at {path}")
        self._index: dict[str, tuple[Path, int, int]] = {}  # url -> (file, offset, status)
        for file in files:
            with file.open("rb") as f:
                records = ArchiveIterator(f)
                for record in records:
                    if record.rec_type != "response" or record.http_headers is None:
                        continue
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    status = int(record.http_headers.get_statuscode() or 0)
                    known = self._index.get(url)
                    if known is None or status == 200 or known[2] != 200:
                        self._index[url] = (file, records.get_record_offset(), status)
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
            return ArchivedPage(url, status, headers, record.content_stream().read())

    def __len__(self) -> int:
        return self.pages


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
