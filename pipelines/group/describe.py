"""What grouping knows of one article: its terms, anchors, sources and time, computed once.

`describe(record)` reads a feed record (`text`, and `title`, `language`, `published`, `url` when
present) and returns a `Description`; `pipelines.group.verify` compares two of them. Term and
anchor weights are fixed per word (`pipelines.group.text`), so a description never changes
after it is made: it can be stored with the grouping index and compared with tomorrow's
articles as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.group.sources import Source, cited_source, mentioned_sources
from pipelines.group.text import Tokenized, add_anchors, add_terms, paragraphs, vocabulary

LEAD_WORDS = 80  # the lead: the first sentence-like words, where a report states its news
_SENTENCE_WORDS = 8  # a shorter line is a menu item, a caption, a heading
_SENTENCE_END = frozenset('.!?:"«“”»—–-')
_SOURCE_CHARS = 1500  # sources named further down are background, not attribution


class Weights:
    """A weighted set of 32-bit keys. A dict, not arrays: the sets are small (tens to a few
    hundred keys) and compared by the hundred per article, where a dict's key views intersect
    several times faster than numpy's sorted-array routines."""

    __slots__ = ("items", "total")

    def __init__(self, items: dict[int, float]):
        self.items = items
        self.total = float(sum(items.values()))

    @classmethod
    def of(cls, mapping: dict[int, float]) -> Weights:
        return cls(dict(mapping))

    @classmethod
    def load(cls, data: list[list[float]] | None) -> Weights:
        if not data:
            return EMPTY
        return cls(dict(zip((int(k) for k in data[0]), data[1], strict=True)))

    def dump(self) -> list[list[float]]:
        keys = sorted(self.items)
        return [list(keys), [self.items[k] for k in keys]]

    def __len__(self) -> int:
        return len(self.items)

    def common(self, other: Weights) -> float:
        """Sum over shared keys of the smaller weight."""
        small, large = (self.items, other.items)
        if len(small) > len(large):
            small, large = large, small
        total = 0.0
        for key, weight in small.items():
            theirs = large.get(key)
            if theirs is not None:
                total += weight if weight < theirs else theirs
        return total

    def jaccard(self, other: Weights, common: float | None = None) -> float:
        """Weighted Jaccard similarity; `common`: `self.common(other)` when already summed."""
        if common is None:
            common = self.common(other)
        union = self.total + other.total - common
        return common / union if union > 0 else 0.0

    def overlap(self, other: Weights, common: float | None = None) -> float:
        """Shared weight over the smaller set's weight: a short version of a long report
        scores as high as its text allows. `common` as for `jaccard`."""
        if common is None:
            common = self.common(other)
        smaller = min(self.total, other.total)
        return common / smaller if smaller > 0 else 0.0

    def within(self, other: Weights) -> float:
        """Share of this set's weight that `other` has too."""
        return self.common(other) / self.total if self.total > 0 else 0.0


EMPTY = Weights({})


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
    background box) are left out of it. The lead is the title and the first sentence-like
    lines (LEAD_WORDS words): menus and captions left in a text are passed over."""
    language = str(record.get("language") or "en").lower().split("-")[0] or "en"
    vocab = vocabulary(language)
    title = str(record.get("title") or "")
    lines = [
        line
        for part in paragraphs(str(record.get("text") or ""))
        if part not in skip
        for line in part.split("\n")
        if line.strip()
    ]
    pieces = [Tokenized(title), *(Tokenized(line) for line in lines)]
    terms: dict[int, float] = {}
    found: dict[int, float] = {}
    lead_terms: dict[int, float] = {}
    lead_found: dict[int, float] = {}
    lead_lines: list[str] = []
    words = 0
    for n, piece in enumerate(pieces):
        starts = n == 0 or pieces[n - 1].text.rstrip()[-1:] in _SENTENCE_END
        in_lead = n == 0 or (words < LEAD_WORDS and len(piece.tokens) >= _SENTENCE_WORDS)
        if in_lead and n and words + len(piece.tokens) > LEAD_WORDS:  # the lead ends here
            cut = piece.offset(LEAD_WORDS - words)
            head_piece, rest = Tokenized(piece.text[:cut]), Tokenized(piece.text[cut:])
            for part, part_starts in ((head_piece, starts), (rest, False)):
                add_terms(terms, part, vocab)
                add_anchors(found, part, vocab, part_starts)
            add_terms(lead_terms, head_piece, vocab)
            add_anchors(lead_found, head_piece, vocab, starts)
            words = LEAD_WORDS
            lead_lines.append(head_piece.text)
            continue
        if not in_lead:  # most lines: straight into the text's sets
            add_terms(terms, piece, vocab)
            add_anchors(found, piece, vocab, starts)
            continue
        piece_terms: dict[int, float] = {}
        piece_anchors: dict[int, float] = {}
        add_terms(piece_terms, piece, vocab)
        add_anchors(piece_anchors, piece, vocab, starts)
        _merge(terms, piece_terms)
        _merge(found, piece_anchors)
        _merge(lead_terms, piece_terms)
        _merge(lead_found, piece_anchors)
        if n:
            words += len(piece.tokens)
            lead_lines.append(piece.text)
    body = "\n".join(lines)
    head = "\n".join([title, *lead_lines])
    return Description(
        language=language,
        terms=Weights(terms),
        lead_terms=Weights(lead_terms),
        anchors=Weights(found),
        lead_anchors=Weights(lead_found),
        source=cited_source(title, lead_lines),
        mentions=frozenset(mentioned_sources(f"{title}\n{body[:_SOURCE_CHARS]}")),
        lead_mentions=frozenset(mentioned_sources(head)),
    )


def _merge(into: dict[int, float], other: dict[int, float]) -> None:
    for key, weight in other.items():
        if weight > into.get(key, -1.0):
            into[key] = weight
