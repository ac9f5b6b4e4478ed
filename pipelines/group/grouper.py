"""Grouping the versions of one report into syndication clusters.

Each article is either a *duplicate* (the same text at another URL: a copy on another site, an
AMP or tracking-parameter variant, a copy cut short or embedded in a longer page), a *rewrite*
(another newsroom's re-report of the same original report, in its own words or in another
language) or the first version of a new report. Two mechanisms decide (docs/grouping.md):

1. Verbatim paragraphs (`ParagraphIndex`). Every paragraph is fingerprinted; an article whose
   paragraphs are, by words, at least `duplicate_containment` contained in another's (or contain
   it) is a duplicate of it. Paragraphs shared by articles that are *not* duplicates are
   recurring blocks -- an outlet's background box, a standard disclaimer -- and are left out of
   what describes an article.
2. What the report says (`describe`, `Verifier`). Content terms, language-independent anchors
   (numbers, names), cited and named sources, publication time. MinHashLSH over the terms and,
   separately, over the anchors retrieves candidates (never all pairs), as do recent versions
   citing the same source; a learned verifier gives the probability that a candidate is a
   version of the same report.

A newcomer joins the cluster it matches best: its probability with the cluster's closest member
must reach the verifier's threshold *and* its probability with the cluster's founding version
must reach the founder threshold, so an article that bridges two stories cannot chain them
together; dated versions further apart than the verifier's window never join. Clusters are
reported with their earliest version as `original`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from datasketch import MinHash

from pipelines.group.describe import Description, Weights, describe
from pipelines.group.options import SCHEME, GroupOptions
from pipelines.group.published import PublishedAt
from pipelines.group.summaries import cluster_summaries
from pipelines.group.text import fingerprint, paragraphs
from pipelines.group.verify import Verifier, pair_features

ORIGINAL, DUPLICATE, REWRITE = "original", "duplicate", "rewrite"
_EVICT_FROM = 1000  # LSH entries before old ones are evicted
_SUMMARY_FIELDS = ("url", "outlet", "title", "published")

__all__ = [
    "DUPLICATE",
    "ORIGINAL",
    "REWRITE",
    "Assignment",
    "GroupOptions",
    "Grouper",
    "PublishedAt",
    "cluster_summaries",
    "group_batch",
]


@dataclass(frozen=True)
class Assignment:
    cluster_id: str
    relation: str  # original, duplicate or rewrite
    similarity: float  # to the cluster's earliest version; 1.0 for that version itself


class _Version:
    __slots__ = (
        "cluster",
        "description",
        "duplicate_of",
        "founder_score",
        "key",
        "order",
        "prints",
        "source",
        "summary",
        "when",
        "words",
    )

    def __init__(self, key: str, order: int, record: Mapping[str, Any]):
        self.key = key
        self.order = order
        # a tuple, not a dict: kept for every version, a dict per version was 160 bytes more
        self.summary = tuple(record.get(k) for k in _SUMMARY_FIELDS)
        self.when = PublishedAt.of(record)
        self.cluster = ""
        self.duplicate_of: str | None = None
        self.prints: dict[int, int] = {}  # paragraph fingerprint -> words
        self.words = 0
        self.description: Description | None = None  # None for duplicates
        # kept when the description is forgotten (GroupOptions.forget_outside_window): the
        # similarity to the cluster's founder, measured on joining, and the cited source
        self.founder_score: float | None = None
        self.source: str | None = None

    @property
    def fields(self) -> dict[str, Any]:
        """The result fields: url, outlet, title, published."""
        return dict(zip(_SUMMARY_FIELDS, self.summary, strict=True))

    def sort_key(self) -> tuple[tuple[int, float], int]:
        return (self.when.sort_key(), self.order)


class ParagraphIndex:
    """Paragraph fingerprints -> the versions that have them; a paragraph in more than
    `max_postings` versions is boilerplate and forgotten."""

    def __init__(self, max_postings: int):
        self.max_postings = max_postings
        # most paragraphs are in one version: its key alone, a list from the second on (a list
        # per paragraph was a third of the memory an article holds beyond the time window)
        self._postings: dict[int, str | list[str]] = {}
        self._boilerplate: set[int] = set()

    def shared_words(self, prints: Mapping[int, int]) -> Counter[str]:
        """Words each indexed version shares with `prints`."""
        shared: Counter[str] = Counter()
        for fp, words in prints.items():
            found = self._postings.get(fp)
            if found is None:
                continue
            if isinstance(found, str):
                shared[found] += words
            else:
                for other in found:
                    shared[other] += words
        return shared

    def recurring(self, fp: int) -> bool:
        return fp in self._boilerplate or fp in self._postings

    def add(self, key: str, prints: Iterable[int]) -> None:
        for fp in prints:
            if fp in self._boilerplate:
                continue
            found = self._postings.get(fp)
            if found is None:
                self._postings[fp] = key
            elif isinstance(found, str):
                self._postings[fp] = [found, key]  # max_postings >= 2: not boilerplate yet
            else:
                found.append(key)
                if len(found) > self.max_postings:
                    del self._postings[fp]
                    self._boilerplate.add(fp)


Signature = np.ndarray  # a MinHash's hash values
Signatures = tuple[Signature | None, Signature | None]  # of the lead terms, of the anchors


def signature(weights: Weights, options: GroupOptions) -> Signature | None:
    """MinHash (datasketch's) of the weighted set, each key repeated once per `weight_unit` of
    weight; keys lighter than `min_weight` (the commonest words, years) are left out: they
    make every pair a candidate. None when nothing is left."""
    kept = {k: w for k, w in weights.items.items() if w >= options.min_weight}
    if not kept:
        return None
    keys = np.fromiter(kept, dtype=np.uint64, count=len(kept))
    values = np.fromiter(kept.values(), dtype=np.float64, count=len(kept))
    copies = np.maximum(np.ceil(values / options.weight_unit), 1).astype(np.int64)
    starts = np.repeat(np.cumsum(copies) - copies, copies)
    nth = np.arange(int(copies.sum()), dtype=np.uint64) - starts.astype(np.uint64)
    items = (np.repeat(keys, copies) ^ (nth * 0x9E3779B1)) & 0xFFFFFFFF
    minhash = MinHash(
        num_perm=options.num_perm,
        hashfunc=int,  # items are 32-bit hashes already (term_hash, then the copy number)
        permutations=_permutations(options.num_perm, options.seed),
        scheme=SCHEME,
    )
    minhash.update_batch(items.tolist())
    return minhash.hashvalues


def signatures(description: Description, options: GroupOptions) -> Signatures:
    return signature(description.lead_terms, options), signature(description.anchors, options)


@dataclass(frozen=True)
class Prepared:
    """What `Grouper.add` computes of an article before it looks at the index, computed ahead
    (`pipelines.group.parallel` does it in worker processes): the paragraphs' fingerprints,
    the description with nothing left out, and its signatures. `add` uses the description
    when no paragraph of the article recurs in the index (else it describes the article
    again without those paragraphs)."""

    prints: list[tuple[int, int] | None]
    description: Description
    signatures: Signatures

    @classmethod
    def of(cls, record: Mapping[str, Any], options: GroupOptions) -> Prepared:
        prints = [fingerprint(p) for p in paragraphs(str(record.get("text") or ""))]
        description = describe(record)
        return cls(prints, description, signatures(description, options))


class CandidateIndex:
    """Banded LSH over the MinHash of a weighted set per version, holding one time window of
    versions. The bands are datasketch's MinHashLSH's (`lsh_bands` bands of `lsh_rows` rows,
    a band's key its hash values), so the candidates are the same; the tables are plain dicts
    of the bands' bytes, ~10x cheaper per article than MinHashLSH's storage layer, which spent
    a fifth of the grouping time (bench.grouping)."""

    def __init__(self, options: GroupOptions):
        self.options = options
        self._bands = range(options.lsh_bands)
        self._rows = options.lsh_rows
        self._tables: list[dict[bytes, set[str]]] = [{} for _ in self._bands]
        self._keys: dict[str, list[bytes]] = {}  # key -> its band keys, for removal

    def _band_keys(self, signature: Signature) -> list[bytes]:
        """Each band's bytes: `rows` hash values, as they are (affine32: 4 bytes each)."""
        raw, step = signature.tobytes(), self._rows * signature.itemsize
        return [raw[i * step : (i + 1) * step] for i in self._bands]

    def query(self, signature: Signature | None) -> set[str]:
        """The versions sharing at least one band with `signature`."""
        found: set[str] = set()
        if signature is None:
            return found
        for table, band in zip(self._tables, self._band_keys(signature), strict=True):
            keys = table.get(band)
            if keys:
                found |= keys
        return found

    def insert(self, key: str, signature: Signature | None) -> bool:
        if signature is None:
            return False
        if key in self._keys:
            raise ValueError(f"{key!r} is already in the candidate index")
        bands = self._band_keys(signature)
        self._keys[key] = bands
        for table, band in zip(self._tables, bands, strict=True):
            table.setdefault(band, set()).add(key)
        return True

    def remove(self, key: str) -> None:
        bands = self._keys.pop(key, None)
        if bands is None:
            return
        for table, band in zip(self._tables, bands, strict=True):
            keys = table[band]
            keys.discard(key)
            if not keys:
                del table[band]


class Grouper:
    """Incremental grouping: `add` articles, then read `assignments()` and `clusters()`.

    Adding in publication order makes each cluster's founder its earliest version and the
    result independent of arrival order; `group_batch` does that for a batch.
    """

    def __init__(
        self,
        options: GroupOptions | None = None,
        verifier: Verifier | None = None,
        describer: Callable[[Mapping[str, Any], set[str]], Description] = describe,
    ):
        self.options = options or GroupOptions()
        self.verifier = verifier or Verifier.load(self.options.verifier)
        self._describe = describer  # evaluation passes a memo
        self._terms = CandidateIndex(self.options)
        self._anchors = CandidateIndex(self.options)
        self._paragraphs = ParagraphIndex(self.options.max_postings)
        self._versions: dict[str, _Version] = {}
        self._clusters: dict[str, list[str]] = {}  # cluster id -> member keys, founder first
        self._in_lsh: deque[tuple[float, str]] = deque()  # (published, key), oldest first
        self._by_source: dict[str, deque[str]] = {}  # source key -> recent version keys
        self._next_order = 0

    def __len__(self) -> int:
        return len(self._versions)

    def __contains__(self, key: str) -> bool:
        return key in self._versions

    # -- adding --------------------------------------------------------------------------------

    def add(self, key: str, record: Mapping[str, Any], prepared: Prepared | None = None) -> str:
        """Index one article under a unique `key`. The record needs `text` (paragraphs separated
        by blank lines) and uses `title`, `published`, `language`, `url` and `outlet` when
        present; `prepared`: what `Prepared.of(record, options)` gives, computed ahead.
        Returns the article's cluster id."""
        if key in self._versions:
            raise ValueError(f"{key!r} is already indexed")
        version = _Version(key, self._next_order, record)
        self._next_order += 1
        text = str(record.get("text") or "")
        if prepared is None or self._describe is not describe:
            prepared = None
            prints = [fingerprint(p) for p in paragraphs(text)]
        else:
            prints = prepared.prints
        for fp in prints:
            if fp is not None:
                version.prints[fp[0]] = fp[1]
        version.words = sum(version.prints.values())

        duplicate_of = self._duplicate_of(version)
        founder_p: float | None = None  # with the cluster's founder, when measured on joining
        if duplicate_of is not None:
            version.duplicate_of = duplicate_of
            version.cluster = self._versions[duplicate_of].cluster
        else:
            recurring = [
                n
                for n, fp in enumerate(prints)
                if fp is not None
                and self.options.skip_recurring
                and self._paragraphs.recurring(fp[0])
            ]
            if prepared is not None and not recurring:
                version.description, found = prepared.description, prepared.signatures
            else:
                parts = paragraphs(text)
                version.description = self._describe(record, {parts[n] for n in recurring})
                found = signatures(version.description, self.options)
            self._evict_before(version.when)
            joined = self._best_cluster(version, found)
            if joined is None:
                version.cluster, founder_p = self._new_cluster(version), 1.0
            else:
                version.cluster, founder_p = joined
            self._index(version, found)
        if self.options.forget_outside_window:
            if founder_p is None:  # a copy: its story's score with the founder
                founder = self._versions[self._clusters[version.cluster][0]]
                founder_p = self._score(version, founder)
            version.founder_score = founder_p
        self._versions[key] = version
        self._clusters.setdefault(version.cluster, []).append(key)
        self._paragraphs.add(key, version.prints)
        return version.cluster

    def _duplicate_of(self, version: _Version) -> str | None:
        best, best_score = None, 0.0
        for other_key, shared_words in self._paragraphs.shared_words(version.prints).items():
            other_words = self._versions[other_key].words
            containment = shared_words / max(min(version.words, other_words), 1)
            if containment >= self.options.duplicate_containment and containment > best_score:
                best, best_score = other_key, containment
        return best

    def _index(self, version: _Version, signatures: Signatures) -> None:
        description = version.description
        assert description is not None
        inserted = self._terms.insert(version.key, signatures[0])
        inserted = self._anchors.insert(version.key, signatures[1]) or inserted
        if inserted:
            stamp = version.when.at.timestamp() if version.when.at else float("inf")
            self._in_lsh.append((stamp, version.key))
        if description.source is not None and self.options.source_candidates:
            recent = self._by_source.setdefault(
                description.source.key, deque(maxlen=self.options.source_candidates)
            )
            recent.append(version.key)

    def _evict_before(self, when: PublishedAt) -> None:
        """Drop from the LSH indexes the versions too old to be versions of one report with
        `when`: adding oldest first, the indexes then hold one time window, whatever the corpus
        size. (Small indexes are left alone: the window is checked again on every candidate.)"""
        if when.at is None or len(self._in_lsh) < _EVICT_FROM:
            return
        horizon = when.at.timestamp() - (self.verifier.window_days + 1) * 86_400
        while self._in_lsh and self._in_lsh[0][0] < horizon:
            key = self._in_lsh.popleft()[1]
            self._terms.remove(key)
            self._anchors.remove(key)
            if self.options.forget_outside_window:
                self._forget(self._versions[key])

    @staticmethod
    def _forget(version: _Version) -> None:
        """Drop a description no newcomer can need any more (dated newcomers cannot join a
        cluster older than the window), keeping what the results read from it."""
        description = version.description
        if description is not None:
            version.source = description.source.name if description.source else None
            version.description = None

    def _best_cluster(self, version: _Version, signatures: Signatures) -> tuple[str, float] | None:
        """The cluster `version` joins, with its probability with that cluster's founder."""
        description = version.description
        assert description is not None
        keys = self._terms.query(signatures[0]) | self._anchors.query(signatures[1])
        if description.source is not None:
            keys.update(self._by_source.get(description.source.key, ()))
        candidates = {self._versions[k].cluster for k in keys}
        best: tuple[str, float] | None = None
        best_score = 0.0
        for cluster_id in sorted(candidates):
            scored = self._cluster_score(version, self._clusters[cluster_id])
            if scored is not None and scored[0] > best_score:
                best, best_score = (cluster_id, scored[1]), scored[0]
        return best

    def _cluster_score(self, version: _Version, members: list[str]) -> tuple[float, float] | None:
        """The probability that joins `version` to the cluster of `members` (founder first)
        and its probability with the founder, or None when it may not join."""
        verifier = self.verifier
        founder = self._versions[members[0]]
        dated = [m.when for m in map(self._versions.__getitem__, members) if m.when.at]
        if dated and version.when.at is not None:
            earliest = min(dated, key=PublishedAt.sort_key)
            apart = version.when.hours_apart(earliest)
            if apart is not None and apart > verifier.window_days * 24:
                return None
        founder_p = self.probability(version, self._story(founder))
        if founder_p < verifier.founder_threshold:
            return None
        described = [
            m for m in (self._versions[k] for k in members[1:]) if m.description is not None
        ][-(self.options.member_candidates - 1) :]
        best = max([founder_p, *(self.probability(version, m) for m in described)])
        return (best, founder_p) if best >= verifier.threshold else None

    def probability(self, a: _Version, b: _Version) -> float:
        """The verifier's probability that two described versions are one report; 0 when they
        cannot be (published too far apart, conflicting sources)."""
        if a.description is None or b.description is None:
            return 0.0
        if not self.verifier.compatible(a.description, b.description, a.when, b.when):
            return 0.0
        features = pair_features(a.description, b.description, a.when, b.when)
        return self.verifier.probability(features)

    def _new_cluster(self, version: _Version) -> str:
        seed = str(version.fields.get("url") or version.key)
        cluster_id = "c" + hashlib.blake2b(seed.encode("utf-8"), digest_size=6).hexdigest()
        while cluster_id in self._clusters:  # the same URL founding twice (two texts)
            cluster_id = "c" + hashlib.blake2b(cluster_id.encode(), digest_size=6).hexdigest()
        return cluster_id

    # -- persistence ---------------------------------------------------------------------------

    def dump(self) -> Iterator[tuple[str, str | None, str]]:
        """(key, published, JSON) for every version: what `restore` needs to continue."""
        for version in self._versions.values():
            founder = self._clusters[version.cluster][0] == version.key
            data = {
                "key": version.key,
                "order": version.order,
                "fields": version.fields,
                "cluster": version.cluster,
                "founder": founder,
                "duplicate_of": version.duplicate_of,
                "prints": [[fp, n] for fp, n in version.prints.items()],
                "description": None if version.description is None else version.description.dump(),
            }
            yield version.key, version.fields.get("published"), json.dumps(data)

    def restore(self, entries: Iterable[str]) -> None:
        """Load versions dumped by an earlier run, with their clusters: new versions can then
        join those clusters."""
        loaded = sorted((json.loads(e) for e in entries), key=lambda d: d["order"])
        for data in loaded:
            version = _Version(data["key"], data["order"], data["fields"])
            version.cluster = data["cluster"]
            version.duplicate_of = data["duplicate_of"]
            version.prints = {int(fp): int(n) for fp, n in data["prints"]}
            version.words = sum(version.prints.values())
            if data.get("description") is not None:
                version.description = Description.load(data["description"])
            self._versions[version.key] = version
            members = self._clusters.setdefault(version.cluster, [])
            if data["founder"]:
                members.insert(0, version.key)
            else:
                members.append(version.key)
            self._next_order = max(self._next_order, version.order + 1)
            self._paragraphs.add(version.key, version.prints)
            if version.description is not None:
                self._index(version, signatures(version.description, self.options))

    def cited_sources(self) -> dict[str, str | None]:
        """The source each version names (a copy: the one its original names)."""
        out: dict[str, str | None] = {}
        for key, version in self._versions.items():
            story = self._story(version)
            description = story.description
            if description is None:
                out[key] = story.source
            else:
                out[key] = description.source.name if description.source is not None else None
        return out

    # -- results -------------------------------------------------------------------------------

    def assignments(self) -> dict[str, Assignment]:
        out: dict[str, Assignment] = {}
        for cluster_id, members in self._ordered_clusters():
            original = members[0]
            for rank, version in enumerate(members):
                out[version.key] = self._assignment(cluster_id, version, original, members[:rank])
        return out

    def _ordered_clusters(self) -> Iterator[tuple[str, list[_Version]]]:
        for cluster_id, keys in self._clusters.items():
            yield cluster_id, sorted((self._versions[k] for k in keys), key=_Version.sort_key)

    def _assignment(
        self, cluster_id: str, version: _Version, original: _Version, earlier: list[_Version]
    ) -> Assignment:
        if version is original:
            return Assignment(cluster_id, ORIGINAL, 1.0)
        earlier_keys = {m.key for m in earlier}
        copies_earlier = version.duplicate_of in earlier_keys or any(
            m.duplicate_of == version.key for m in earlier
        )
        if copies_earlier:
            return Assignment(cluster_id, DUPLICATE, round(self._closeness(version, original), 3))
        return Assignment(cluster_id, REWRITE, round(self._score(version, original), 3))

    def _score(self, version: _Version, original: _Version) -> float:
        """The verifier's probability that `version` is a version of `original`; measured when
        it joined, if the descriptions are forgotten since."""
        a, b = self._story(version), self._story(original)
        forgotten = a.description is None or b.description is None
        if forgotten and version.founder_score is not None and self._is_founder(original):
            return version.founder_score
        return self.probability(a, b)

    def _is_founder(self, version: _Version) -> bool:
        members = self._clusters.get(version.cluster)
        return members is not None and members[0] == version.key

    def _story(self, version: _Version) -> _Version:
        """The version whose description stands for `version` (a copy has none)."""
        while version.duplicate_of is not None:
            version = self._versions[version.duplicate_of]
        return version

    def _closeness(self, a: _Version, b: _Version) -> float:
        """Paragraph containment when the texts share paragraphs, else the verifier's
        probability."""
        shared = sum(words for fp, words in a.prints.items() if fp in b.prints)
        if shared:
            return min(1.0, shared / max(min(a.words, b.words), 1))
        return self._score(a, b)

    def clusters(self) -> list[dict[str, Any]]:
        """One summary per cluster (see `cluster_summaries`)."""
        assignments, sources = self.assignments(), self.cited_sources()
        rows = []
        for key, version in self._versions.items():
            a = assignments[key]
            rows.append(
                {
                    **version.fields,
                    "cluster_id": a.cluster_id,
                    "relation": a.relation,
                    "similarity": a.similarity,
                    "cited_source": sources[key],
                    "_order": version.order,
                }
            )
        return cluster_summaries(rows)


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> Any:
    """datasketch's permutations for (num_perm, seed), generated once: they are read-only."""
    return MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations


def group_batch(
    records: Iterable[tuple[str, Mapping[str, Any]]],
    options: GroupOptions | None = None,
    verifier: Verifier | None = None,
    describer: Callable[[Mapping[str, Any], set[str]], Description] = describe,
) -> Grouper:
    """Group (key, record) pairs oldest first, so the result does not depend on the order of
    the input."""
    items = sorted(records, key=lambda kr: (PublishedAt.of(kr[1]).sort_key(), kr[0]))
    grouper = Grouper(options, verifier, describer)
    for key, record in items:
        grouper.add(key, record)
    return grouper
