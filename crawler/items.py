"""Items: a fetched page on its way to extraction, and the article the feed exports.

Both are dataclasses read through itemadapter, so pipelines and tests can also pass plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Page:
    """A fetched article candidate, before extraction. Never exported."""

    url: str
    outlet: str
    status: int
    content_type: str
    html: str | None  # None when the body is not text (a PDF, an image)
    fetched_at: str
    flags: list[str] = field(default_factory=list)


@dataclass
class Article:
    """One article as it appears in `out/articles.jsonl` (schema: crawler/schemas/).

    The grouping fields are filled when the crawl ends (pipelines.grouping); an article streamed
    earlier with -o/-O has them null.
    """

    url: str
    outlet: str | None
    title: str | None
    authors: list[str]
    published: str | None
    language: str | None
    text: str
    word_count: int
    content_hash: str
    fetched_at: str
    cluster_id: str | None = None
    relation: str | None = None  # original, duplicate or rewrite
    similarity: float | None = None  # to the cluster's earliest article


ARTICLE_FIELDS = tuple(Article.__dataclass_fields__)
