"""What grouping knows of one article: its terms, anchors, sources and time, computed once.

`describe(record)` reads a feed record (`text`, and `title`, `language`, `published`, `url` when
present) and returns a `Description`; `pipelines.group.verify` compares two of them. Term and
anchor weights are fixed per word (`pipelines.group.text`), so a description never changes
after it is made: it can be stored with the grouping index and compared with tomorrow's
articles as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from pipelines.group.sources import Source, cited_source, mentioned_sources
from pipelines.group.text import anchors, content_terms, lead, paragraphs

LEAD_WORDS = 80  # the lead: the first sentence-like words, where a report states its news
_SOURCE_CHARS = 1500  # sources named further down are background, not attribution
# a date in a URL: /2024/03/21/, /2024-03-21, 20240321 (not part of a longer number)
_URL_DATE = re.compile(r"(?<!\d)(20\d\d)[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass(frozen=True)
class Weights:
    """A weighted set: sorted 32-bit keys and their weights."""

    keys: np.ndarray
    weights: np.ndarray

    @classmethod
    def of(cls, mapping: dict[int, float]) -> Weights:
        keys = np.array(sorted(mapping), dtype=np.uint32)
        return cls(keys, np.array([mapping[k] for k in keys.tolist()], dtype=np.float64))

    @classmethod
    def load(cls, data: list[list[float]] | None) -> Weights:
        if not data:
            return EMPTY
        return cls(np.array(data[0], dtype=np.uint32), np.array(data[1], dtype=np.float64))

    def dump(self) -> list[list[float]]:
        return [self.keys.tolist(), self.weights.tolist()]

    @property
    def total(self) -> float:
        return float(self.weights.sum())

    def __len__(self) -> int:
        return len(self.keys)

    def common(self, other: Weights) -> float:
        """Sum over shared keys of the smaller weight."""
        if not len(self) or not len(other):
            return 0.0
        _, ia, ib = np.intersect1d(self.keys, other.keys, assume_unique=True, return_indices=True)
        return float(np.minimum(self.weights[ia], other.weights[ib]).sum())

    def jaccard(self, other: Weights) -> float:
        """Weighted Jaccard similarity."""
        common = self.common(other)
        union = self.total + other.total - common
        return common / union if union > 0 else 0.0

    def overlap(self, other: Weights) -> float:
        """Shared weight over the smaller set's weight: a short version of a long report
        scores as high as its text allows."""
        smaller = min(self.total, other.total)
        return self.common(other) / smaller if smaller > 0 else 0.0

    def within(self, other: Weights) -> float:
        """Share of this set's weight that `other` has too."""
        total = self.total
        return self.common(other) / total if total > 0 else 0.0


EMPTY = Weights(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float64))


@dataclass(frozen=True)
class PublishedAt:
    """A publication time for ordering and time windows: a timestamp, or a day whose time is
    unknown (ISO 8601 date), or nothing."""

    at: datetime | None
    date_only: bool = False

    @classmethod
    def parse(cls, value: Any) -> PublishedAt:
        if not isinstance(value, str) or not value.strip():
            return cls(None)
        value = value.strip()
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return cls(None)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        date_only = len(value) == 10
        if date_only:
            parsed += timedelta(hours=12)  # the middle of the day, +/- 12 h of slack
        return cls(parsed.astimezone(UTC), date_only)

    @classmethod
    def of(cls, record: Any) -> PublishedAt:
        """The record's `published`, else a date its URL carries (many outlets put the day in
        the path): feeds of other tools often have no publication time."""
        found = cls.parse(record.get("published"))
        if found.at is None:
            match = _URL_DATE.search(str(record.get("url") or ""))
            if match:
                found = cls.parse("-".join(match.groups()))
        return found

    def sort_key(self) -> tuple[int, float]:
        if self.at is None:
            return (1, 0.0)
        # a day without a time sorts after the timed versions of that day
        return (0, self.at.timestamp() + (43_200 if self.date_only else 0))

    def hours_apart(self, other: PublishedAt) -> float | None:
        if self.at is None or other.at is None:
            return None
        slack = 12 * (self.date_only + other.date_only)
        return max(0.0, abs((self.at - other.at).total_seconds()) / 3600 - slack)


@dataclass(frozen=True)
class Description:
    language: str
    terms: Weights  # content terms of title and text
    lead_terms: Weights  # ... of title and lead
    anchors: Weights  # numbers and names of title and text
    lead_anchors: Weights
    source: Source | None  # the source the version attributes its report to
    mentions: frozenset[str]  # known sources it names
    lead_mentions: frozenset[str] = frozenset()  # ... in its title and lead

    def dump(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "terms": self.terms.dump(),
            "lead_terms": self.lead_terms.dump(),
            "anchors": self.anchors.dump(),
            "lead_anchors": self.lead_anchors.dump(),
            "source": None if self.source is None else [self.source.name, self.source.key],
            "mentions": sorted(self.mentions),
            "lead_mentions": sorted(self.lead_mentions),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Description:
        return cls(
            data["language"],
            Weights.load(data["terms"]),
            Weights.load(data["lead_terms"]),
            Weights.load(data["anchors"]),
            Weights.load(data["lead_anchors"]),
            None if data["source"] is None else Source(*data["source"]),
            frozenset(data["mentions"]),
            frozenset(data.get("lead_mentions", ())),
        )


def describe(record: Any, skip: set[str] | frozenset[str] = frozenset()) -> Description:
    """The description of a feed record; paragraphs in `skip` (recurring blocks: an outlet's
    background box) are left out of it."""
    language = str(record.get("language") or "en").lower().split("-")[0] or "en"
    title = str(record.get("title") or "")
    parts = [p for p in paragraphs(str(record.get("text") or "")) if p not in skip]
    body = "\n".join(parts)
    first = lead(body, LEAD_WORDS)
    head = f"{title}\n{first}"
    whole = f"{title}\n{body}"
    return Description(
        language=language,
        terms=Weights.of(content_terms(whole, language)),
        lead_terms=Weights.of(content_terms(head, language)),
        anchors=Weights.of(anchors(whole, language)),
        lead_anchors=Weights.of(anchors(head, language)),
        source=cited_source(title, [first]),
        mentions=frozenset(mentioned_sources(f"{title}\n{body[:_SOURCE_CHARS]}")),
        lead_mentions=frozenset(mentioned_sources(head)),
    )
