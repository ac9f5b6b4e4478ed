"""Page metadata that trafilatura reads less precisely than we need.

trafilatura's date is a day; the feed wants the publication time with its timezone, which pages
give in JSON-LD (`datePublished`) or OpenGraph (`article:published_time`). The page type
(JSON-LD `@type`, `og:type`) tells articles from section pages and newsletter landing pages that
share the article URL shape. Everything here reads an lxml tree and never raises on bad markup.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from lxml.html import HtmlElement

ARTICLE_TYPES = frozenset(
    t.lower()
    for t in (
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "SatiricalArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
    )
)
# Page-level types that say "this page is not an article" (sitewide types such as Organization,
# WebSite or BreadcrumbList say nothing either way and sit on article pages too).
NON_ARTICLE_TYPES = frozenset(
    t.lower()
    for t in (
        "CollectionPage",
        "SearchResultsPage",
        "ProfilePage",
        "AboutPage",
        "ContactPage",
        "FAQPage",
        "ItemList",
        "Product",
        "Event",
    )
)
_MAX_JSONLD_CHARS = 1_000_000
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class PageMeta:
    canonical: str | None = None
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    language: str | None = None
    jsonld_types: frozenset[str] = frozenset()
    og_type: str | None = None
    has_article_node: bool = False  # a JSON-LD Article: its missing author means none

    @property
    def complete(self) -> bool:
        """Whether title, date and authors are all known (authors may be known to be none)."""
        return bool(self.title and self.published and (self.authors or self.has_article_node))

    @property
    def is_article(self) -> bool | None:
        """True or False when the page says what it is, None when it says nothing. Only
        structured data says "not an article" firmly; see `says_not_article`."""
        if self.jsonld_types & ARTICLE_TYPES or self.og_type == "article":
            return True
        if self.jsonld_types & NON_ARTICLE_TYPES or self.og_type:
            return False
        return None

    @property
    def firmly_not_article(self) -> bool:
        """A JSON-LD type of a section, search or profile page, and no article type: that is
        what the page is. An `og:type` of "website" alone is not -- many CMSs put it on every
        page, articles included -- and is weighed with other signals by the extractor."""
        return bool(self.jsonld_types & NON_ARTICLE_TYPES) and not (
            self.jsonld_types & ARTICLE_TYPES or self.og_type == "article"
        )

    @property
    def declared_type(self) -> str:
        parts = sorted(self.jsonld_types)
        if self.og_type:
            parts.append(f"og:type={self.og_type}")
        return ", ".join(parts) or "none"


def read_metadata(tree: HtmlElement) -> PageMeta:
    nodes = list(_jsonld_nodes(tree))
    types = frozenset(t.lower() for node in nodes for t in _types(node))
    article = next((n for n in nodes if {t.lower() for t in _types(n)} & ARTICLE_TYPES), {})
    og_type = _meta(tree, "og:type")
    return PageMeta(
        canonical=_first(tree, '//link[contains(concat(" ", @rel, " "), " canonical ")]/@href')
        or _meta(tree, "og:url"),
        title=_text(article.get("headline")) or _meta(tree, "og:title"),
        authors=_persons(article.get("author")) or _split_names(_meta(tree, "author")),
        published=normalize_datetime(
            _text(article.get("datePublished"))
            or _meta(tree, "article:published_time")
            or _first(tree, '//*[@itemprop="datePublished"]/@content')
            or _first(tree, '//*[@itemprop="datePublished"]/@datetime')
        ),
        language=_language(tree, article),
        jsonld_types=types,
        og_type=og_type.lower() if og_type else None,
        has_article_node=bool(article),
    )


def normalize_datetime(value: str | None) -> str | None:
    """ISO 8601: a date stays a date; a time keeps its timezone when it has one."""
    if not value:
        return None
    value = value.strip()
    if _DATE_ONLY.match(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)  # RFC 2822, as in some feeds and pages
        except (TypeError, ValueError, IndexError):
            return None
    return parsed.isoformat(timespec="seconds")


def _jsonld_nodes(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    for raw in tree.xpath('//script[@type="application/ld+json"]/text()'):
        if len(raw) > _MAX_JSONLD_CHARS:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.append(item["@graph"])
                yield item


def _types(node: dict[str, Any]) -> list[str]:
    value = node.get("@type", [])
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        value = " ".join(html.unescape(value).split())
        return value or None
    return None


def _persons(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, str):
            names.extend(_split_names(item))
        elif isinstance(item, dict) and "Organization" not in _types(item):
            name = _text(item.get("name"))
            if name:
                names.append(name)
    return list(dict.fromkeys(names))


def _split_names(value: str | None) -> list[str]:
    if not value:
        return []
    parts = re.split(r"\s*(?:;|,|\band\b)\s*", value)
    return [p for p in (" ".join(part.split()) for part in parts) if p]


def _meta(tree: HtmlElement, name: str) -> str | None:
    value = _first(tree, f'//meta[@property="{name}" or @name="{name}"]/@content')
    return _text(value)


def _first(tree: HtmlElement, xpath: str) -> str | None:
    for value in tree.xpath(xpath):
        value = str(value).strip()
        if value:
            return value
    return None


def _language(tree: HtmlElement, article: dict[str, Any]) -> str | None:
    candidates = (
        _first(tree, "/html/@lang"),
        _text(article.get("inLanguage")),
        _meta(tree, "og:locale"),
        _first(tree, '//meta[@http-equiv="content-language"]/@content'),
    )
    for value in candidates:
        if value:
            code = re.split(r"[-_]", value.strip())[0].lower()
            if re.fullmatch(r"[a-z]{2,3}", code):
                return code
    return None
