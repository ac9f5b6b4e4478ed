"""Decoding pages that do not say which charset they use, or say it wrongly.

A page that declares its charset (BOM, HTTP header or <meta>) is decoded as declared, unless the
bytes contradict the declaration:

- declared UTF-8, but most of its non-ASCII bytes are not valid UTF-8 (a windows-1251 page behind
  a server-wide `charset=utf-8`): decoded as if it declared nothing;
- declared a single-byte charset (windows-125x, ISO-8859-x, KOI8), but the body is valid UTF-8
  with multi-byte characters (a CMS that writes UTF-8 under an old template's <meta>): UTF-8.
  Single-byte text with accented or Cyrillic letters is almost never valid UTF-8 by chance.

One that declares nothing is decoded as UTF-8 when it is valid UTF-8; otherwise as the outlet's
default (the charset a browser set up for the outlet's audience would assume, from the
registry); otherwise as charset-normalizer's guess (what Scrapy itself does). Statistical
detectors are unreliable on mostly-English pages with a few non-Latin words, which is why the
outlet default comes first.
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


def choose_encoding(
    body: bytes, content_type: str | None = None, default: str | None = None
) -> tuple[str, str]:
    """(encoding, how it was chosen) for raw page bytes. `how` is "declared" when the page's
    own declaration holds, "valid UTF-8", "outlet default", "detected" or "fallback" when it
    declares none, and starts with "declared <charset> but" when the bytes contradict it."""
    declared = declared_encoding(body, content_type)
    if declared is None or not _known(declared):
        return guess_encoding(body, default)
    if read_bom(body)[0] is not None:
        return declared, "declared"
    if _codec(declared) == "utf-8" and not _mostly_utf8(body):
        encoding, how = guess_encoding(body, default)
        return encoding, f"declared {declared} but is not UTF-8; {how}"
    if _single_byte(declared) and _multibyte_utf8(body):
        return "utf-8", f"declared {declared} but is valid UTF-8"
    return declared, "declared"


def decode_html(
    body: bytes, content_type: str | None = None, default: str | None = None
) -> tuple[str, str, str]:
    """(text, encoding, how) for raw page bytes; never raises on bad bytes."""
    encoding, how = choose_encoding(body, content_type, default)
    _, bom = read_bom(body)
    if bom:
        body = body[len(bom) :]
    return body.decode(encoding, errors="replace"), encoding, how


def _known(encoding: str) -> bool:
    return _codec(encoding) is not None


def _codec(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def _single_byte(encoding: str) -> bool:
    """Whether every byte is one character in `encoding` (windows-125x, ISO-8859-x, KOI8...)."""
    if _codec(encoding) in {"utf-8", "utf-16", "utf-32", "utf-7"}:
        return False
    try:
        high = bytes(range(128, 256)).decode(encoding, errors="replace")
    except LookupError:
        return False
    return len(high) == 128


def _mostly_utf8(body: bytes) -> bool:
    """Whether a body that claims UTF-8 is UTF-8: valid, or with fewer invalid sequences than
    valid non-ASCII characters (a few stray bytes in a UTF-8 page do not make it another
    charset)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return True
    text = body[:_DETECT_BYTES].decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    valid = sum(1 for ch in text if ch > "\x7f") - invalid
    return valid > invalid


def _multibyte_utf8(body: bytes) -> bool:
    """Whether `body` is valid UTF-8 and has non-ASCII characters."""
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
