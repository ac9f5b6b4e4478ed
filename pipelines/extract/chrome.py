"""Removing the page chrome trafilatura leaves in an article's text.

Rules are data (`crawler.outlets.Cleanup`): CSS selectors pruned before extraction, and
regular expressions matched against whole paragraphs after it. `GENERAL` applies to every page;
each outlet adds its own. Beyond the patterns, three rules need no configuration: a paragraph
that repeats the title is dropped, a paragraph already seen on the page is dropped, and short
labels left dangling at the end ("Read also:", "Expanded Coverage:") are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from cssselect import HTMLTranslator

from crawler.outlets import Cleanup

_LANGS = "ua|uk|en|ru|de|fr|pl|es|it|pt|ro|tr|ar|zh|ja|ko|he|cs|sk|hu|bg|ka|be|kk|lt|lv|et"

GENERAL = Cleanup(
    drop=(
        # widget headings and labels standing alone
        r"(?:tags|read also|read more|see also|related(?: articles| news| stories)?|more news"
        r"|latest news|news feed|editors'? picks|share(?: this)?(?: article)?|advertisement"
        r"|skip to (?:main )?content|edit post)\s*:?",
        # newsletter and membership boxes
        r"\*\s*indicates required",
        r"subscribe(?: now| to our newsletter)?",
        r"enter your email(?: address)?(?: to subscribe)?",
        r"please,? enter (?:a )?(?:correct|valid) email(?: address)?",
        r"success(?:fully|fuly) subscribed",
        r"(?:(?:become a member|gift (?:a )?membership)\s*)+",
        # a language switcher rendered as text: "ua en ru"
        rf"(?:(?:{_LANGS})\s+){{1,6}}(?:{_LANGS})",
        # template leftovers: "client/title.list_title", "{{ title }}", "{% block %}"
        r"[a-z_]+(?:\.[a-z_]+)*/[a-z_]+(?:\.[a-z_]+)+",
        r"\{\{.*\}\}|\{%.*%\}",
    ),
)

_DANGLING_LABEL = re.compile(r"^[^.!?]{1,40}:$")


class ChromeFilter:
    """Applies the general rules plus one outlet's `Cleanup` to extracted text."""

    def __init__(self, *cleanups: Cleanup):
        cleanups = (GENERAL, *cleanups)
        translator = HTMLTranslator()
        self.prune_xpaths: list[str] = [
            translator.css_to_xpath(css) for c in cleanups for css in c.prune
        ]
        self._drop = _compile(p for c in cleanups for p in c.drop)
        self._cut = _compile(p for c in cleanups for p in c.cut_at)

    def paragraphs(self, text: str, title: str | None = None) -> list[str]:
        """The article's paragraphs from trafilatura's line-per-block text, chrome removed."""
        title_key = _key(title) if title else None
        seen: set[str] = set()
        kept: list[str] = []
        for line in text.splitlines():
            para = " ".join(line.split())
            if not para:
                continue
            if self._cut and self._cut.fullmatch(para):
                break
            key = _key(para)
            if key in seen or key == title_key or (self._drop and self._drop.fullmatch(para)):
                continue
            seen.add(key)
            kept.append(para)
        while kept and _DANGLING_LABEL.match(kept[-1]):
            kept.pop()
        return kept


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    parts = [f"(?:{p})" for p in patterns]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
