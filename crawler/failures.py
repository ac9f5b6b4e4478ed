"""Why a request came to nothing, as one short kind, a message and a log level.

The spider's errback (crawler.spiders.base) receives every failed request: HTTP errors that
survived the retries, download errors (timeouts, resets, cut connections, oversized bodies)
and requests that a middleware ended (robots.txt, offsite, redirect loops, private addresses,
decompression bombs, page limits, unchanged pages). It logs one line per page and counts it
under one of two headings, overall and per outlet:

- `news/skipped/<kind>`: the crawler chose not to fetch the page (robots.txt, offsite, private
  address, page limit, already fetched, unchanged, not saved offline);
- `news/errors/<kind>`: the page could not be had (HTTP errors after the retries, timeouts,
  resets, truncated or oversized bodies, redirect loops, decompression bombs, TLS certificates
  that do not verify: `tls_invalid`).

Our own middlewares raise `Skip`, which carries its kind; Scrapy's exceptions are recognised
by type or message.
"""

from __future__ import annotations

import logging
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from OpenSSL import SSL
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    DropItem,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from service_identity import CertificateError, VerificationError

from crawler import resolver


class Skip(IgnoreRequest):
    """IgnoreRequest that says why: `kind` names the reason in stats and logs; `error` says
    whether it counts as an error (the page could not be had) or as a skip (a choice);
    `transient` whether a later run may have it (the page goes on the retry list)."""

    def __init__(
        self,
        kind: str,
        message: str,
        level: int = logging.INFO,
        *,
        error: bool = False,
        transient: bool = False,
    ):
        super().__init__(message)
        self.kind = kind
        self.level = level
        self.error = error
        self.transient = transient


class Drop(DropItem):
    """DropItem that carries its reason (`reason`, one word) apart from the message."""

    def __init__(self, reason: str, detail: str, log_level: str | None = None):
        super().__init__(f"{reason} ({detail})", log_level=log_level)
        self.reason = reason


# Item drops a later run may not repeat: a body cut short in transfer, an extraction worker that
# died (killed, or the pool broken by a Ctrl-C as it started).
TRANSIENT_DROPS = frozenset({"truncated", "worker_died"})


class Outcome(NamedTuple):
    kind: str
    message: str
    level: int
    error: bool
    transient: bool = False  # a later run may have the page: it goes on the retry list

    @property
    def heading(self) -> str:
        """The stats heading: `errors` or `skipped`."""
        return "errors" if self.error else "skipped"


_IGNORED = [  # Scrapy's own IgnoreRequest messages: (pattern, kind, is an error)
    (re.compile(r"Forbidden by robots\.txt"), "robots_forbidden", False),
    (re.compile(r"Filtered offsite request"), "offsite", False),
    (re.compile(r"max redirections reached"), "redirect_loop", True),
    (re.compile(r"during decompression"), "decompression_bomb", True),
]
_ERRORS: list[tuple[type[BaseException], str, bool]] = [  # (type, kind, transient)
    (DownloadTimeoutError, "timeout", True),
    (DownloadCancelledError, "too_large", False),
    (DownloadConnectionRefusedError, "connection_refused", True),
    (CannotResolveHostError, "dns", True),
    (ResponseDataLossError, "truncated", True),
    (DownloadFailedError, "connection_failed", True),
]
# HTTP statuses a later run may not get: server errors, timeouts, rate limits
_TRANSIENT_STATUS = frozenset({408, 425, 429})


def describe(error: BaseException, url: str | None = None) -> Outcome:
    """What became of a failed request (for `url`): kind, message, log level, error or skip."""
    if isinstance(error, Skip):
        return Outcome(error.kind, str(error), error.level, error.error, error.transient)
    if isinstance(error, HttpError):
        status = error.response.status
        transient = status >= 500 or status in _TRANSIENT_STATUS
        return Outcome(f"http_{status}", f"HTTP {status}", logging.INFO, True, transient)
    if isinstance(error, IgnoreRequest):
        message = str(error)
        for pattern, kind, is_error in _IGNORED:
            if pattern.search(message):
                return Outcome(kind, message, logging.INFO, is_error)
        return Outcome("ignored", message or "ignored", logging.INFO, False)
    tls = tls_failure(error)
    if tls:
        return Outcome("tls_invalid", f"tls_invalid: {tls}", logging.WARNING, True, True)
    if isinstance(error, CannotResolveHostError) and url:
        # the connection's own resolution refused the address (crawler.resolver)
        host = (urlsplit(url).hostname or "").lower()
        if host in resolver.refused:
            message = f"refused: {host} resolves to {resolver.refused[host]}, not a public address"
            return Outcome("private_address", message, logging.INFO, False)
    message = _readable(error)
    for cls, kind, transient in _ERRORS:
        if isinstance(error, cls):
            return Outcome(kind, message, logging.WARNING, True, transient)
    # anything else went wrong in transfer (a connection lost, a TLS failure...)
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
    return Outcome(name, message, logging.WARNING, True, True)


# Scrapy's own warnings for failures the errback reports: demoted to DEBUG, so each failed page
# has one line at INFO or above (the warn-size warning too: the page's fate is reported either
# way, by the errback or by the extraction pipeline).
_REPORTED = re.compile(
    r"larger than download (?:max|warn) size|during decompression|^Got data loss in "
    r"|larger than the download warning size"
    r"|^Error downloading <GET "  # robots.txt (the spider fetches it too, and reports it)
)
_QUIETED_LOGGERS = (
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.core.downloader.handlers.http11",
    "scrapy.core.downloader.handlers.http2",
    "scrapy.downloadermiddlewares.httpcompression",
)


def tls_failure(error: BaseException) -> str | None:
    """Why the server's certificate was refused, when that is what ended the download: no
    trusted CA vouches for it (OpenSSL's "certificate verify failed": self-signed, unknown
    issuer, expired) or it does not name the host (service_identity's VerificationError).
    Scrapy wraps Twisted's failures: the causes and their `reasons` are searched."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo and len(seen) < 20:
        current = todo.pop()
        seen.append(current)
        if current.__cause__ is not None:
            todo.append(current.__cause__)
        for reason in getattr(current, "reasons", None) or []:
            value = getattr(reason, "value", None)
            if isinstance(value, BaseException):
                todo.append(value)
    for found in seen:
        if isinstance(found, VerificationError | CertificateError):
            return "the certificate does not name the host"
        if isinstance(found, SSL.Error) and "certificate verify failed" in str(found):
            return "the certificate is not signed by a trusted CA (certificate verify failed)"
    return None


def _readable(error: BaseException) -> str:
    """A download error in one short line: Twisted's failures inside it unwrapped."""
    text = _FAILURE.sub(r"\1", str(error)).strip("[] ")
    if not text and isinstance(error, DownloadCancelledError):
        text = "cancelled: the body passed DOWNLOAD_MAXSIZE"
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


# "<twisted.python.failure.Failure twisted.internet.error.ConnectionLost: ...>"
#   -> "ConnectionLost: ..."
_FAILURE = re.compile(r"<twisted\.python\.failure\.Failure (?:[\w.]+\.)?(\w+: [^>]*)>")


class ReportedByErrback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and _REPORTED.search(record.getMessage()):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_duplicate_warnings() -> None:
    """Install `ReportedByErrback` on the Scrapy loggers that warn about what the errback
    reports (idempotent)."""
    for name in _QUIETED_LOGGERS:
        log = logging.getLogger(name)
        if not any(isinstance(f, ReportedByErrback) for f in log.filters):
            log.addFilter(ReportedByErrback())
