"""Scores of a grouping against labels: pairwise and B-cubed, by kind, with bootstrap intervals.

A pair of articles is positive when both are versions of one report. Negatives (pages labelled
as not a version of any report) are groups of their own. Pairs are counted within the articles
given; a cross-validated run pools the pairs of its test folds.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from eval.datasets import Labelled


@dataclass
class PairCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        return self.fbeta(1.0)

    def fbeta(self, beta: float) -> float:
        """F-beta: recall weighs `beta` times as much as precision (beta < 1: precision more)."""
        p, r = self.precision, self.recall
        b2 = beta * beta
        return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0

    @property
    def predicted(self) -> int:
        return self.tp + self.fp

    def add(self, same: bool, together: bool, times: int = 1) -> None:
        """Count a pair `times` times: `same` report by the labels, put `together` or not."""
        self.tp += times * (same and together)
        self.fp += times * (together and not same)
        self.fn += times * (same and not together)


Predicted = Mapping[str, str]  # key -> predicted cluster
Pair = tuple[Labelled, Labelled]


def pairs(items: list[Labelled], within: Callable[[Labelled], object] | None = None) -> list[Pair]:
    """Every unordered pair, or only pairs of items with the same `within` value (a fold)."""
    if within is None:
        return list(itertools.combinations(items, 2))
    blocks: dict[object, list[Labelled]] = defaultdict(list)
    for item in items:
        blocks[within(item)].append(item)
    return [p for block in blocks.values() for p in itertools.combinations(block, 2)]


def pair_counts(
    candidates: Iterable[Pair], predicted: Predicted, keep: Callable[[Pair], bool] | None = None
) -> PairCounts:
    counts = PairCounts()
    for a, b in candidates:
        if keep is not None and not keep((a, b)):
            continue
        counts.add(a.group == b.group, predicted[a.key] == predicted[b.key])
    return counts


def pair_kind(pair: Pair) -> str:
    """What links a positive pair: `translation` (two languages), else `rewrite` (either is a
    rewrite), else `verbatim` (copies of one text)."""
    a, b = pair
    if a.language != b.language:
        return "translation"
    if "rewrite" in (a.relation, b.relation):
        return "rewrite"
    return "verbatim"


def bcubed_f1(items: list[Labelled], predicted: Predicted) -> float:
    by_group: Counter[str] = Counter(i.group for i in items)
    by_cluster: Counter[str] = Counter(predicted[i.key] for i in items)
    both: Counter[tuple[str, str]] = Counter((i.group, predicted[i.key]) for i in items)
    precision = sum(both[(i.group, predicted[i.key])] / by_cluster[predicted[i.key]] for i in items)
    recall = sum(both[(i.group, predicted[i.key])] / by_group[i.group] for i in items)
    p, r = precision / len(items), recall / len(items)
    return 2 * p * r / (p + r) if p + r else 0.0
