"""Reading XML sitemaps (urlsets, sitemap indexes, Google News sitemaps) and guarding XML
discovery documents against entity bombs.

Scrapy's `Sitemap` keeps only an entry's direct children, so the publication date of a Google
News sitemap (`<news:news><news:publication_date>`) is lost; the date window needs it. Parsing
here is as safe as Scrapy's: entities are never expanded, no network, no huge trees, and each
entry is freed once read. A document that declares entities is refused before parsing
(`declares_entities`), so the crawl can say why it yields nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

import lxml.etree

_ENTITY = re.compile(rb"<!ENTITY\s")
_PROLOG_BYTES = 64 * 1024  # a DTD's internal subset comes before the root element


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: str | None = None
    published: str | None = None  # Google News: news:news/news:publication_date

    @property
    def date(self) -> str | None:
        """The best date to judge the entry's age by: publication, else last modification."""
        return self.published or self.lastmod


def declares_entities(body: bytes) -> bool:
    """Whether an XML document declares entities in its DTD: legitimate sitemaps and feeds do
    not, and "billion laughs" bombs must."""
    return _ENTITY.search(body[:_PROLOG_BYTES]) is not None


def read_sitemap(body: bytes) -> tuple[str, Iterator[SitemapEntry]]:
    """(root element name — "urlset", "sitemapindex" or anything else —, its entries)."""
    events = lxml.etree.iterparse(
        BytesIO(body),
        events=("start", "end"),
        recover=True,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        _, root = next(events)
    except (StopIteration, lxml.etree.XMLSyntaxError):
        return "", iter(())
    return _local(root), _entries(events)


def _entries(events: Iterator[tuple[str, lxml.etree._Element]]) -> Iterator[SitemapEntry]:
    try:
        for event, element in events:
            if event != "end" or _local(element) not in ("url", "sitemap"):
                continue
            fields: dict[str, str] = {}
            for child in element:
                name = _local(child)
                if name == "news":
                    for grandchild in child:
                        if _local(grandchild) == "publication_date" and grandchild.text:
                            fields["published"] = grandchild.text.strip()
                elif name in ("loc", "lastmod") and child.text:
                    fields[name] = child.text.strip()
            element.clear()
            if fields.get("loc"):
                yield SitemapEntry(**fields)
    except lxml.etree.XMLSyntaxError:
        return


def _local(element: lxml.etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
