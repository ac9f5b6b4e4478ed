"""Grouping's parameters: a light module (no word lists, no MinHash), so that reading settings
imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEME = "affine32"  # datasketch's permutation scheme; 2.0 changed the default, so it is explicit
# How terms and anchors are hashed and weighed (`pipelines.group.text`); stored with the
# grouping index, which is not restored when this changes.
HASH_SCHEME = "crc32(utf-8 stem|#number|@skeleton); wordfreq 3 weights; v2"


@dataclass(frozen=True)
class GroupOptions:
    """Parameters (docs/grouping.md); the crawl sets them from NEWS_GROUP_*."""

    num_perm: int = 128
    seed: int = 1
    # Candidates: MinHash over the weighted terms (a term repeated once per `weight_unit` of
    # weight), and over the anchors, each in a MinHashLSH with `lsh_bands` bands of `lsh_rows`
    # rows: a pair is a candidate with probability 1 - (1 - J^rows)^bands -- 0.47 at J = 0.1,
    # 0.77 at 0.15, 0.93 at 0.2.
    lsh_bands: int = 42
    lsh_rows: int = 3
    weight_unit: float = 1.5
    min_weight: float = 2.0  # lighter terms and anchors are not in the signatures
    duplicate_containment: float = 0.8  # share of the shorter text's words in shared paragraphs
    max_postings: int = 50  # a paragraph in more articles than this is boilerplate
    # Versions citing the same source are candidates whatever their MinHash says: the most
    # recent this many per source.
    source_candidates: int = 4
    # A newcomer is compared with at most this many members of a candidate cluster (the
    # founder and the most recent others).
    member_candidates: int = 16
    skip_recurring: bool = True  # leave paragraphs shared with other articles out
    # Forget the descriptions of versions that left the time window (scrapy dedup over a large
    # feed): memory then grows by the fingerprints and result fields alone. A version without
    # date can no longer join a cluster older than the window; the crawl keeps them, its state
    # store restores one window anyway.
    forget_outside_window: bool = False
    verifier: str | None = None  # coefficients file; None: pipelines/group/verifier.json

    def __post_init__(self) -> None:
        checks = {
            "num_perm": self.num_perm >= 16,
            "lsh_bands": self.lsh_bands >= 1 and self.lsh_bands * self.lsh_rows <= self.num_perm,
            "lsh_rows": self.lsh_rows >= 1,
            "weight_unit": self.weight_unit > 0,
            "duplicate_containment": 0 < self.duplicate_containment <= 1,
            "max_postings": self.max_postings >= 2,
            "source_candidates": self.source_candidates >= 0,
            "member_candidates": self.member_candidates >= 1,
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
            "min_weight": self.min_weight,
        }
