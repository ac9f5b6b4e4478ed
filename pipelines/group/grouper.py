"""Grouping the versions of one report into syndication clusters.

Each article is either a *duplicate* (the same text at another URL: a copy on another site, an
AMP or tracking-parameter variant, a copy cut short or embedded in a longer page), a *rewrite*
(another newsroom's re-report of the same original report, in its own words) or the first
version of a new report. Two signals decide, because neither can alone (docs/grouping.md):

1. Verbatim paragraphs. Every paragraph is fingerprinted; an article whose paragraphs are, by
   words, at least `duplicate_containment` contained in another's (or contain it) is a duplicate
   of it. Paragraphs shared by articles that are *not* duplicates are recurring blocks — an
   outlet's background box, a standard disclaimer — and are left out of the comparison below.
2. What the report says. The title and the lead (first paragraphs, recurring blocks skipped)
   become stemmed content terms, without the words of attribution ("reported on Tuesday,
   citing") and of the cited source's name. MinHash over them and MinHashLSH retrieve candidates
   (never all pairs); a candidate is verified with an IDF-weighted Jaccard similarity whose
   document frequencies come from the corpus being grouped, so that terms every article of a
   topic shares ("North Korean troops") weigh little and the terms of one report ("secret
   clause", "1000") weigh much. Versions that name different original sources, or that were
   published further apart than `window_hours`, are never rewrites of each other; versions that
   name the same source need less textual evidence than versions that do not.

Every version that is not a duplicate is in the LSH index, so a newcomer is retrieved through
whichever member it resembles most; it then joins the cluster whose *founding* version it
matches — not any member — so one article that bridges two stories cannot chain them together.
Clusters are reported with their earliest version as `original`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from pipelines.group.sources import Source, cited_source
from pipelines.group.text import HASH_SCHEME, fingerprint, term_hashes

ORIGINAL, DUPLICATE, REWRITE = "original", "duplicate", "rewrite"
SCHEME = "affine32"  # datasketch's permutation scheme; 2.0 changed the default, so it is explicit
_EVICT_FROM = 1000  # LSH entries before old ones are evicted
_SUMMARY_FIELDS = ("url", "outlet", "title", "published")


@dataclass(frozen=True)
class GroupOptions:
    """Thresholds and parameters (docs/grouping.md); the crawl sets them from NEWS_GROUP_*."""

    num_perm: int = 128
    seed: int = 1
    # Candidates: MinHash over the IDF-weighted terms (a term repeated once per `weight_unit` of
    # weight x IDF), so its Jaccard estimates the weighted similarity, and MinHashLSH with
    # `lsh_bands` bands of `lsh_rows` rows: a pair is a candidate with probability
    # 1 - (1 - J^rows)^bands -- 0.47 at J = 0.1, 0.77 at 0.15, 0.93 at 0.2, 0.02 at 0.02.
    lsh_bands: int = 64
    lsh_rows: int = 2
    weight_unit: float = 3.0
    # IDF-weighted similarity to a cluster's founding version needed to join it as a rewrite:
    # when both versions name the same original source, and when they do not.
    rewrite_threshold: float = 0.06
    rewrite_threshold_unsourced: float = 0.18
    duplicate_containment: float = 0.8  # share of the shorter text's words in shared paragraphs
    window_hours: float = 72.0  # rewrites are published within this time of each other
    lead_paragraphs: int = 2
    title_weight: int = 3
    lead_weight: int = 2
    max_postings: int = 50  # a paragraph in more articles than this is boilerplate
    # Versions citing the same source are candidates whatever their MinHash says (their
    # similarity can be too low for LSH to find reliably): the most recent this many per source.
    source_candidates: int = 32
    # Levers, on by default; eval/evaluate.py switches them off one at a time.
    source_gate: bool = True  # versions naming different sources are not rewrites
    idf: bool = True  # weigh terms by inverse document frequency
    skip_recurring: bool = True  # leave paragraphs shared with other articles out of the lead

    def __post_init__(self) -> None:
        checks = {
            "num_perm": self.num_perm >= 16,
            "lsh_bands": self.lsh_bands >= 1 and self.lsh_bands * self.lsh_rows <= self.num_perm,
            "lsh_rows": self.lsh_rows >= 1,
            "weight_unit": self.weight_unit > 0,
            "rewrite_threshold": 0 < self.rewrite_threshold <= 1,
            "rewrite_threshold_unsourced": 0 < self.rewrite_threshold_unsourced <= 1,
            "duplicate_containment": 0 < self.duplicate_containment <= 1,
            "window_hours": self.window_hours > 0,
            "lead_paragraphs": self.lead_paragraphs >= 1,
            "title_weight": self.title_weight >= 0,
            "lead_weight": self.lead_weight >= 1,
            "max_postings": self.max_postings >= 2,
            "source_candidates": self.source_candidates >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid grouping options: {', '.join(bad)} ({self})")

    def signature_parameters(self) -> dict[str, Any]:
        """What must match for signatures to be comparable; stored with anything persisted."""
        return {
            "num_perm": self.num_perm,
            "seed": self.seed,
            "permutation_scheme": SCHEME,
            "term_hash": HASH_SCHEME,
            "lsh_bands": self.lsh_bands,
            "lsh_rows": self.lsh_rows,
            "weight_unit": self.weight_unit,
        }


@dataclass(frozen=True)
class Assignment:
    cluster_id: str
    relation: str  # original, duplicate or rewrite
    similarity: float  # to the cluster's earliest version; 1.0 for that version itself


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
class _Description:
    lead: tuple[str, ...]
    source: Source | None
    terms: np.ndarray  # sorted term hashes
    weights: np.ndarray


class _Version:
    __slots__ = (
        "cluster",
        "duplicate_of",
        "fields",
        "key",
        "order",
        "prints",
        "source",
        "terms",
        "total",
        "vector",
        "weights",
        "when",
        "words",
    )

    def __init__(self, key: str, order: int, record: Mapping[str, Any]):
        self.key = key
        self.order = order
        self.fields = {k: record.get(k) for k in _SUMMARY_FIELDS}
        self.when = PublishedAt.parse(record.get("published"))
        self.cluster = ""
        self.duplicate_of: str | None = None
        self.prints: dict[int, int] = {}  # paragraph fingerprint -> words
        self.words = 0
        self.terms: np.ndarray | None = None  # sorted term hashes of title and lead
        self.weights: np.ndarray | None = None
        self.vector: np.ndarray | None = None  # weights x IDF, when compared (see _weigh)
        self.total = 0.0
        self.source: Source | None = None

    def sort_key(self) -> tuple[tuple[int, float], int]:
        return (self.when.sort_key(), self.order)


class Grouper:
    """Incremental grouping: `add` articles, then read `assignments()` and `clusters()`.

    Adding in publication order makes each cluster's founder its earliest version and the
    result independent of arrival order; `group_batch` does that for a batch.
    """

    def __init__(self, options: GroupOptions | None = None):
        self.options = options or GroupOptions()
        self._lsh = MinHashLSH(
            num_perm=self.options.num_perm, params=(self.options.lsh_bands, self.options.lsh_rows)
        )
        self._versions: dict[str, _Version] = {}
        self._clusters: dict[str, list[str]] = {}  # cluster id -> member keys, founder first
        self._postings: dict[int, list[str]] = {}  # paragraph fingerprint -> version keys
        self._boilerplate: set[int] = set()
        self._df: Counter[int] = Counter()
        self._corpus_size = 0
        self._frozen_corpus = False
        self._in_lsh: deque[tuple[float, str]] = deque()  # (published, key), oldest first
        self._described: dict[str, _Description] = {}  # from set_corpus(keep=True)
        self._by_source: dict[str, deque[str]] = {}  # source key -> recent version keys
        self._next_order = 0
        self._restored: list[str] = []  # restored versions not yet in the LSH index
        self._permutations = _permutations(self.options.num_perm, self.options.seed)

    def __len__(self) -> int:
        return len(self._versions)

    # -- adding --------------------------------------------------------------------------------

    def add(self, key: str, record: Mapping[str, Any]) -> str:
        """Index one article under a unique `key`. The record needs `text` (paragraphs separated
        by blank lines) and uses `title`, `published`, `language`, `url` and `outlet` when
        present. Returns the article's cluster id."""
        if key in self._versions:
            raise ValueError(f"{key!r} is already indexed")
        self._reindex_restored()
        version = _Version(key, self._next_order, record)
        self._next_order += 1
        paragraphs = [p for p in str(record.get("text") or "").split("\n\n") if p.strip()]
        prints = [fingerprint(p) for p in paragraphs]
        for fp in prints:
            if fp is not None:
                version.prints[fp[0]] = fp[1]
        version.words = sum(version.prints.values())

        duplicate_of = self._duplicate_of(version)
        if duplicate_of is not None:
            version.duplicate_of = duplicate_of
            version.cluster = self._versions[duplicate_of].cluster
        else:
            lead = [p for p, fp in zip(paragraphs, prints, strict=True) if not self._recurring(fp)]
            self._describe(version, record, lead[: self.options.lead_paragraphs])
            self._weigh(version)
            self._evict_before(version.when)
            signature = self._signature(version)
            version.cluster = self._best_cluster(version, signature) or self._new_cluster(version)
            if version.source is not None and self.options.source_candidates:
                recent = self._by_source.setdefault(
                    version.source.key, deque(maxlen=self.options.source_candidates)
                )
                recent.append(key)
            if signature is not None:
                self._lsh.insert(key, signature)
                stamp = version.when.at.timestamp() if version.when.at else float("inf")
                self._in_lsh.append((stamp, key))
            self._count_terms(version)
        self._versions[key] = version
        self._clusters.setdefault(version.cluster, []).append(key)
        self._index_paragraphs(version)
        return version.cluster

    def _duplicate_of(self, version: _Version) -> str | None:
        shared: Counter[str] = Counter()
        for fp, words in version.prints.items():
            for other in self._postings.get(fp, ()):
                shared[other] += words
        best, best_score = None, 0.0
        for other_key, shared_words in shared.items():
            other_words = self._versions[other_key].words
            containment = shared_words / max(min(version.words, other_words), 1)
            if containment >= self.options.duplicate_containment and containment > best_score:
                best, best_score = other_key, containment
        return best

    def _recurring(self, fp: tuple[int, int] | None) -> bool:
        if fp is None or not self.options.skip_recurring:
            return False
        return fp[0] in self._boilerplate or fp[0] in self._postings

    def _describe(self, version: _Version, record: Mapping[str, Any], lead: list[str]) -> None:
        cached = self._described.pop(version.key, None)
        description = (
            cached if cached and cached.lead == tuple(lead) else self.describe(record, lead)
        )
        version.source, version.terms, version.weights = (
            description.source,
            description.terms,
            description.weights,
        )

    def describe(self, record: Mapping[str, Any], lead: list[str]) -> _Description:
        """Cited source and weighted content terms of a title and lead."""
        language = str(record.get("language") or "en")
        title = str(record.get("title") or "")
        source = cited_source(title, lead)
        exclude = source.words() if source else frozenset()
        bag: dict[int, int] = {}
        for weight, text in (
            (self.options.title_weight, title),
            (self.options.lead_weight, "\n".join(lead)),
        ):
            for term in term_hashes(text, language, exclude):
                bag[term] = bag.get(term, 0) + weight
        terms = np.array(sorted(bag), dtype=np.uint32)
        weights = np.array([bag[t] for t in terms.tolist()], dtype=np.float64)
        return _Description(tuple(lead), source, terms, weights)

    def _weigh(self, version: _Version) -> None:
        """Weights x IDF, fixed when the version is added (exact when the corpus is set)."""
        if version.terms is None or version.weights is None:
            return
        version.vector = version.weights * self._idf(version.terms)
        version.total = float(version.vector.sum())

    def _evict_before(self, when: PublishedAt) -> None:
        """Drop from the LSH index the versions too old to be rewrite partners of `when`:
        adding oldest first, the index then holds one time window, whatever the corpus size.
        (Small indexes are left alone: the time window is checked again on every candidate.)"""
        if when.at is None or len(self._in_lsh) < _EVICT_FROM:
            return
        horizon = when.at.timestamp() - (self.options.window_hours + 24) * 3600
        while self._in_lsh and self._in_lsh[0][0] < horizon:
            self._lsh.remove(self._in_lsh.popleft()[1])

    def _signature(self, version: _Version) -> MinHash | None:
        if version.terms is None or version.vector is None or not len(version.terms):
            return None
        copies = np.maximum(np.ceil(version.vector / self.options.weight_unit), 1).astype(np.int64)
        starts = np.repeat(np.cumsum(copies) - copies, copies)
        nth = np.arange(int(copies.sum()), dtype=np.uint64) - starts.astype(np.uint64)
        items = (np.repeat(version.terms.astype(np.uint64), copies) ^ (nth * 0x9E3779B1)) & (
            0xFFFFFFFF
        )
        signature = MinHash(
            num_perm=self.options.num_perm,
            hashfunc=int,  # items are 32-bit hashes already (term_hash, then the copy number)
            permutations=self._permutations,
            scheme=SCHEME,
        )
        signature.update_batch(items.tolist())
        return signature

    def _best_cluster(self, version: _Version, signature: MinHash | None) -> str | None:
        if signature is None:
            return None
        keys = set(self._lsh.query(signature))
        if version.source is not None:
            keys.update(self._by_source.get(version.source.key, ()))
        candidates = {self._versions[k].cluster for k in keys}
        best, best_score = None, 0.0
        for cluster_id in sorted(candidates):
            founder = self._versions[self._clusters[cluster_id][0]]
            score = self.similarity(version, founder)
            if score >= self._threshold(version, founder) and score > best_score:
                best, best_score = founder.cluster, score
        return best

    def _threshold(self, a: _Version, b: _Version) -> float:
        if a.source is not None and b.source is not None and a.source.key == b.source.key:
            return self.options.rewrite_threshold
        return self.options.rewrite_threshold_unsourced

    def _new_cluster(self, version: _Version) -> str:
        seed = str(version.fields.get("url") or version.key)
        cluster_id = "c" + hashlib.blake2b(seed.encode("utf-8"), digest_size=6).hexdigest()
        while cluster_id in self._clusters:  # the same URL founding twice (two texts)
            cluster_id = "c" + hashlib.blake2b(cluster_id.encode(), digest_size=6).hexdigest()
        return cluster_id

    def _count_terms(self, version: _Version) -> None:
        if not self._frozen_corpus and version.terms is not None:
            self._df.update(version.terms.tolist())
            self._corpus_size += 1

    def _index_paragraphs(self, version: _Version) -> None:
        for fp in version.prints:
            if fp in self._boilerplate:
                continue
            keys = self._postings.setdefault(fp, [])
            keys.append(version.key)
            if len(keys) > self.options.max_postings:
                del self._postings[fp]
                self._boilerplate.add(fp)

    def set_corpus(
        self,
        records: Iterable[tuple[str, Mapping[str, Any]]],
        keep: bool = False,
        extend: bool = False,
    ) -> None:
        """Take document frequencies from (key, record) pairs -- title and lead terms, identical
        leads counted once -- instead of from versions as they are added: a batch is weighed as
        a whole, and its first versions are compared with the same weights as its last. With
        `keep`, the descriptions are kept for `add` (faster, holds them in memory); with
        `extend`, the batch is counted on top of the restored index instead of alone."""
        df: Counter[int] = Counter(self._df) if extend else Counter()
        seen: set[bytes] = set()
        for key, record in records:
            paragraphs = [p for p in str(record.get("text") or "").split("\n\n") if p.strip()]
            description = self.describe(record, paragraphs[: self.options.lead_paragraphs])
            if keep:
                self._described[key] = description
            identity = description.terms.tobytes()
            if identity not in seen:  # copies share title and lead
                seen.add(identity)
                df.update(description.terms.tolist())
        base = self._corpus_size if extend else 0
        self._df, self._corpus_size, self._frozen_corpus = df, base + len(seen), True

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
                "terms": None if version.terms is None else version.terms.tolist(),
                "weights": None if version.weights is None else version.weights.tolist(),
                "source": None
                if version.source is None
                else [version.source.name, version.source.key],
            }
            yield version.key, version.fields.get("published"), json.dumps(data)

    def restore(self, entries: Iterable[str]) -> None:
        """Load versions dumped by an earlier run, with their clusters: new versions can then
        join those clusters. Their IDF weights and LSH signatures are computed on the next `add`,
        after `set_corpus(..., extend=True)` has counted the new batch."""
        loaded = sorted((json.loads(e) for e in entries), key=lambda d: d["order"])
        for data in loaded:
            version = _Version(data["key"], data["order"], data["fields"])
            version.cluster = data["cluster"]
            version.duplicate_of = data["duplicate_of"]
            version.prints = {int(fp): int(n) for fp, n in data["prints"]}
            version.words = sum(version.prints.values())
            if data["terms"] is not None:
                version.terms = np.array(data["terms"], dtype=np.uint32)
                version.weights = np.array(data["weights"], dtype=np.float64)
            if data["source"] is not None:
                version.source = Source(*data["source"])
            self._versions[version.key] = version
            members = self._clusters.setdefault(version.cluster, [])
            if data["founder"]:
                members.insert(0, version.key)
            else:
                members.append(version.key)
            self._next_order = max(self._next_order, version.order + 1)
            self._index_paragraphs(version)
            if version.source is not None and self.options.source_candidates:
                recent = self._by_source.setdefault(
                    version.source.key, deque(maxlen=self.options.source_candidates)
                )
                recent.append(version.key)
            if version.duplicate_of is None and version.terms is not None:
                self._count_terms(version)
                self._restored.append(version.key)

    def _reindex_restored(self) -> None:
        for key in self._restored:
            version = self._versions[key]
            self._weigh(version)
            signature = self._signature(version)
            if signature is not None:
                self._lsh.insert(key, signature)
                stamp = version.when.at.timestamp() if version.when.at else float("inf")
                self._in_lsh.append((stamp, key))
        self._restored = []

    def __contains__(self, key: str) -> bool:
        return key in self._versions

    def cited_sources(self) -> dict[str, str | None]:
        """The source each version names (a copy: the one its original names)."""
        return {
            key: (source.name if (source := self._story(v).source) else None)
            for key, v in self._versions.items()
        }

    # -- similarity ----------------------------------------------------------------------------

    def similarity(self, a: _Version, b: _Version) -> float:
        """IDF-weighted Jaccard of two versions' title and lead terms; 0 when they name
        different sources or were published too far apart to be versions of one report."""
        if a.terms is None or b.terms is None or a.vector is None or b.vector is None:
            return 0.0
        if self.options.source_gate and a.source and b.source and a.source.key != b.source.key:
            return 0.0
        apart = a.when.hours_apart(b.when)
        if apart is not None and apart > self.options.window_hours:
            return 0.0
        _, ia, ib = np.intersect1d(a.terms, b.terms, assume_unique=True, return_indices=True)
        common = float(np.minimum(a.vector[ia], b.vector[ib]).sum())
        union = a.total + b.total - common
        return common / union if union > 0 else 0.0

    def _idf(self, terms: np.ndarray) -> np.ndarray:
        if not self.options.idf:
            return np.ones(len(terms))
        n = self._corpus_size if self._frozen_corpus else self._corpus_size + 1
        df = np.fromiter((self._df.get(int(t), 0) for t in terms), np.float64, len(terms))
        return np.log1p((n - df + 0.5) / (df + 0.5))  # BM25's IDF: never negative

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
        score = self.similarity(self._story(version), self._story(original))
        return Assignment(cluster_id, REWRITE, round(score, 3))

    def _story(self, version: _Version) -> _Version:
        """The version whose title-and-lead terms stand for `version` (a copy has none)."""
        while version.duplicate_of is not None:
            version = self._versions[version.duplicate_of]
        return version

    def _closeness(self, a: _Version, b: _Version) -> float:
        """Paragraph containment when the texts share paragraphs, else text similarity."""
        shared = sum(words for fp, words in a.prints.items() if fp in b.prints)
        if shared:
            return min(1.0, shared / max(min(a.words, b.words), 1))
        return self.similarity(self._story(a), self._story(b))

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


def cluster_summaries(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Cluster lines from grouped article rows (`url`, `outlet`, `title`, `published`,
    `cluster_id`, `relation`, `similarity`, `cited_source`): members by publication time, the
    source they name most, first and last publication, each outlet's lag behind the first.
    Sorted by first publication."""
    by_cluster: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("cluster_id"):
            by_cluster.setdefault(row["cluster_id"], []).append(row)
    summaries = []
    for cluster_id, members in by_cluster.items():
        members.sort(
            key=lambda r: (
                PublishedAt.parse(r.get("published")).sort_key(),
                r.get("_order", 0),
                r.get("url") or "",
            )
        )
        summaries.append(_summary(cluster_id, members))
    summaries.sort(
        key=lambda s: (s["first_published"] is None, s["first_published"] or "", s["id"])
    )
    return summaries


def _summary(cluster_id: str, members: list[Mapping[str, Any]]) -> dict[str, Any]:
    original = members[0]
    first = PublishedAt.parse(original.get("published"))
    sources = Counter(m["cited_source"] for m in members if m.get("cited_source"))
    timed = [m for m in members if PublishedAt.parse(m.get("published")).at is not None]
    lags: dict[str, dict[str, Any]] = {}
    for m in timed:
        outlet = str(m.get("outlet") or "unknown")
        if outlet not in lags:
            lags[outlet] = {
                "outlet": outlet,
                "first_published": m.get("published"),
                **_lag(first, PublishedAt.parse(m.get("published"))),
            }
    return {
        "id": cluster_id,
        "original": _member(original),
        "cited_source": sources.most_common(1)[0][0] if sources else None,
        "size": len(members),
        "outlets": sorted({str(m.get("outlet") or "unknown") for m in members}),
        "first_published": original.get("published") if first.at else None,
        "last_published": timed[-1].get("published") if timed else None,
        "members": [_member(m) for m in members],
        "outlet_lags": list(lags.values()),
    }


def _member(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{k: row.get(k) for k in ("outlet", "url", "title", "published")},
        "relation": row.get("relation"),
        "score": row.get("similarity"),
    }


def _lag(first: PublishedAt, when: PublishedAt) -> dict[str, Any]:
    """Lag behind the cluster's first version: in seconds when both times are known, in whole
    days when one of them is only a date."""
    if first.at is None or when.at is None:
        return {"lag_seconds": None, "lag_days": None}
    if first.date_only or when.date_only:
        days = (when.at.date() - first.at.date()).days
        return {"lag_seconds": None, "lag_days": max(days, 0)}
    seconds = max(int((when.at - first.at).total_seconds()), 0)
    return {"lag_seconds": seconds, "lag_days": seconds // 86_400}


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> Any:
    """datasketch's permutations for (num_perm, seed), generated once: they are read-only."""
    return MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations


def group_batch(
    records: Iterable[tuple[str, Mapping[str, Any]]], options: GroupOptions | None = None
) -> Grouper:
    """Group (key, record) pairs oldest first, with document frequencies from the whole batch,
    so the result does not depend on the order of the input."""
    items = sorted(
        records, key=lambda kr: (PublishedAt.parse(kr[1].get("published")).sort_key(), kr[0])
    )
    grouper = Grouper(options)
    grouper.set_corpus(items, keep=True)
    for key, record in items:
        grouper.add(key, record)
    return grouper
