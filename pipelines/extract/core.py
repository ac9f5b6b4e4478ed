"""Article extraction from one HTML page, as a plain class that knows nothing of Scrapy.

`Extractor.extract()` turns a page into the feed's article fields, or says why the page is not an
article (`Outcome.reason`). The crawl's pipeline and the `scrapy extract` command both call it,
through `pipelines.extract.bounded.BoundedExtractor`, which adds time and memory bounds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import regex
import trafilatura
from trafilatura.settings import Document
from trafilatura.utils import load_html

from crawler import outlets
from crawler.outlets import Outlet
from crawler.urls import clean_url
from pipelines.extract.chrome import ChromeFilter
from pipelines.extract.metadata import normalize_datetime, read_metadata

_WORD = re.compile(r"\w+(?:[-'’]\w+)*")
# scripts written without spaces between words (Han, kana, Thai...), and Hangul, whose spaced
# units are long: their length is counted in characters, two to a word
_UNSPACED = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)


ARTICLE_LENGTH_WORDS = 250  # a body this long is an article, whatever og:type says


def _weigh_type(published: bool, url_says_article: bool, long_body: bool) -> float:
    """Above 0: an article despite an og:type that says otherwise. The og:type counts -1, a
    publication time or an article-length body 1.5 each, the outlet's URL rules 0.5."""
    return -1.0 + 1.5 * published + 0.5 * url_says_article + 1.5 * long_body


def count_words(text: str) -> int:
    """Words of `text`, script-aware: space-separated words, plus one word per two characters
    of scripts that do not separate words (Japanese, Chinese, Thai) or whose spaced units are
    long (Korean), whose pages would otherwise count as a handful of words."""
    unspaced = len(_UNSPACED.findall(text))
    if not unspaced:
        return len(_WORD.findall(text))
    spaced = _UNSPACED.sub(" ", text)
    return len(_WORD.findall(spaced)) + (unspaced + 1) // 2


@dataclass(frozen=True)
class ExtractOptions:
    """What counts as an article. trafilatura itself runs with its defaults."""

    min_words: int = 40


@dataclass(frozen=True)
class Outcome:
    """An article (the feed's fields as a dict), or the reason there is none."""

    article: dict[str, Any] | None = None
    reason: str | None = None  # a short code, used in stats: news/skipped/<reason>
    detail: str = ""

    @classmethod
    def skip(cls, reason: str, detail: str) -> Outcome:
        return cls(reason=reason, detail=detail)


class Extractor:
    def __init__(self, options: ExtractOptions | None = None):
        self.options = options or ExtractOptions()

    def extract(
        self,
        html: str,
        url: str | None = None,
        outlet: str | None = None,
        fetched_at: str | None = None,
    ) -> Outcome:
        """Extract the article of `html`, fetched from `url` (None for a saved file: the page's
        canonical link is used). `outlet` is a registry name; when None it is looked up from the
        URL."""
        if not html or not html.strip():
            return Outcome.skip("empty", "the page is empty")
        tree = load_html(html)
        if tree is None:
            return Outcome.skip("unparseable", "the HTML could not be parsed")
        meta = read_metadata(tree)
        fetched_from = outlets.get(outlet) if outlet else (outlets.for_url(url) if url else None)
        page_url = _page_url(url, meta.canonical, fetched_from)
        entry = fetched_from or (outlets.for_url(page_url) if page_url else None)
        if meta.firmly_not_article:
            return Outcome.skip("not_article", f"the page declares type {meta.declared_type}")
        # og:type other than article: one weak signal against, weighed with a publication time
        # and an article-length body (strong signals for) and the outlet's article URL rules
        # (a weak one): see _weigh_type
        url_says_article = bool(entry and page_url and entry.is_article_url(page_url))

        chrome = _chrome_filter(entry)
        doc = trafilatura.bare_extraction(
            tree,
            url=page_url,
            # trafilatura's metadata search is a third of its time; only needed as a fallback
            with_metadata=not meta.complete,
            include_comments=False,
            prune_xpath=chrome.prune_xpaths or None,
        )
        if not isinstance(doc, Document) or not doc.text:
            return Outcome.skip("no_text", "trafilatura found no main text")
        title = _valid(meta.title or doc.title)
        paragraphs = [_valid_text(p) for p in chrome.paragraphs(doc.text, title)]
        text = "\n\n".join(paragraphs)
        word_count = count_words(text)
        if (
            meta.is_article is False
            and _weigh_type(
                bool(meta.published), url_says_article, word_count >= ARTICLE_LENGTH_WORDS
            )
            <= 0
        ):
            return Outcome.skip(
                "not_article",
                f"the page declares type {meta.declared_type}; no publication time or article"
                f" markup, {word_count} words of text",
            )
        if word_count < self.options.min_words:
            return Outcome.skip(
                "too_short", f"{word_count} words of text, fewer than {self.options.min_words}"
            )
        return Outcome(
            article={
                "url": page_url,  # None for a saved file with no canonical link
                "outlet": entry.name if entry else None,
                "title": title,
                "authors": [_valid_text(a) for a in meta.authors or _split_authors(doc.author)],
                "published": meta.published or normalize_datetime(doc.date),
                "language": meta.language,
                "text": text,
                "word_count": word_count,
                "content_hash": content_hash(text),
                "fetched_at": fetched_at or now_iso(),
            }
        )


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid(value: str | None) -> str | None:
    """Text that can be written as UTF-8: a lone surrogate (from "&#xD800;" in a page) becomes
    U+FFFD instead of aborting the file or the database row it is written to."""
    return None if value is None else _valid_text(value)


def _valid_text(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


def _page_url(url: str | None, canonical: str | None, owner: Outlet | None) -> str | None:
    """The article's URL: the page's canonical link when it stays on the site it was fetched from
    (a syndicated copy often points its canonical at the original, which must not hide the copy),
    else the fetched URL. A saved file (no `url`) has only its canonical link."""
    if canonical and canonical.startswith(("http://", "https://")):
        if url is None:
            return clean_url(canonical)
        if owner.owns(canonical) if owner else _same_host(url, canonical):
            return clean_url(canonical)
    return clean_url(url) if url else None


def content_hash(text: str) -> str:
    """sha256 of the NFC-normalised text: equal for byte-identical article bodies."""
    return hashlib.sha256(unicodedata.normalize("NFC", text).encode("utf-8")).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _split_authors(value: str | None) -> list[str]:
    if not value:
        return []
    return [a.strip() for a in value.split(";") if a.strip()]


def _same_host(a: str, b: str) -> bool:
    return (urlsplit(a).hostname or "").lower() == (urlsplit(b).hostname or "").lower()


@lru_cache(maxsize=64)
def _chrome_filter(outlet: Outlet | None) -> ChromeFilter:
    return ChromeFilter(outlet.cleanup) if outlet else ChromeFilter()
