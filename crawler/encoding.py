"""Decoding pages that do not say which charset they use.

A page that declares its charset (HTTP header, BOM or <meta>) is decoded as declared. One that
declares nothing is decoded as UTF-8 when it is valid UTF-8; otherwise as the outlet's default
(the charset a browser set up for the outlet's audience would assume, from the registry);
otherwise as charset-normalizer's guess (what Scrapy itself does). Statistical detectors are
unreliable on mostly-English pages with a few non-Latin words, which is why the outlet default
comes first.
"""

from __future__ import annotations

import codecs

import charset_normalizer
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

_DETECT_BYTES = 256 * 1024


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """The charset a page declares (BOM, then HTTP header, then <meta>), or None."""
    bom_encoding, _ = read_bom(body)
    return (
        bom_encoding
        or (http_content_type_encoding(content_type) if content_type else None)
        or html_body_declared_encoding(body)
    )


def guess_encoding(body: bytes, default: str | None = None) -> tuple[str, str]:
    """(encoding, how it was chosen) for a body that declares no charset."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", "valid UTF-8"
    if default:
        return default, "outlet default"
    best = charset_normalizer.from_bytes(body[:_DETECT_BYTES]).best()
    if best is not None:
        return best.encoding, "detected"
    return "cp1252", "fallback"


def decode_html(
    body: bytes, content_type: str | None = None, default: str | None = None
) -> tuple[str, str, str]:
    """(text, encoding, how) for raw page bytes; never raises on bad bytes."""
    encoding = declared_encoding(body, content_type)
    how = "declared"
    if encoding is None or not _known(encoding):
        encoding, how = guess_encoding(body, default)
    _, bom = read_bom(body)
    if bom:
        body = body[len(bom) :]
    return body.decode(encoding, errors="replace"), encoding, how


def _known(encoding: str) -> bool:
    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True
