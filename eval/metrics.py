"""Scores of a grouping against labels: pairwise and B-cubed, by kind, with bootstrap intervals.

A pair of articles is positive when both are versions of one report. Negatives (pages labelled
as not a version of any report) are groups of their own. Pairs are counted within the articles
given; a cross-validated run pools the pairs of its test folds.
"""

from __future__ import annotations

import itertools
import random
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
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def predicted(self) -> int:
        return self.tp + self.fp


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
        if a.extra.get("original", a.key) == b.extra.get("original", b.key):
            continue  # two bootstrap copies of one article
        same, together = a.group == b.group, predicted[a.key] == predicted[b.key]
        counts.tp += same and together
        counts.fp += together and not same
        counts.fn += same and not together
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


def recall_by_kind(candidates: list[Pair], predicted: Predicted) -> dict[str, tuple[int, int]]:
    """kind -> (found, positive pairs of that kind)."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for a, b in candidates:
        if a.group != b.group:
            continue
        kind = pair_kind((a, b))
        total[kind] += 1
        found[kind] += predicted[a.key] == predicted[b.key]
    return {kind: (found[kind], total[kind]) for kind in sorted(total)}


def negatives_merged(items: list[Labelled], predicted: Predicted) -> dict[str, tuple[int, int]]:
    """negative kind -> (negatives put in a cluster with a member of the report they are a
    negative of, negatives of that kind)."""
    members: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if item.role == "member":
            members[item.group].add(predicted[item.key])
    merged: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for item in items:
        if item.role != "negative" or item.negative_of is None:
            continue
        kind = item.relation or "negative"
        total[kind] += 1
        merged[kind] += predicted[item.key] in members[item.negative_of]
    return {kind: (merged[kind], total[kind]) for kind in sorted(total)}


def bcubed_f1(items: list[Labelled], predicted: Predicted) -> float:
    by_group: Counter[str] = Counter(i.group for i in items)
    by_cluster: Counter[str] = Counter(predicted[i.key] for i in items)
    both: Counter[tuple[str, str]] = Counter((i.group, predicted[i.key]) for i in items)
    precision = sum(both[(i.group, predicted[i.key])] / by_cluster[predicted[i.key]] for i in items)
    recall = sum(both[(i.group, predicted[i.key])] / by_group[i.group] for i in items)
    p, r = precision / len(items), recall / len(items)
    return 2 * p * r / (p + r) if p + r else 0.0


def bootstrap(
    items: list[Labelled],
    predicted: Predicted,
    score: Callable[[list[Labelled], Predicted], float],
    rounds: int = 1000,
    seed: int = 7,
) -> tuple[float, float]:
    """95% interval of `score` over resamples of topics (a report with its negatives): pairs
    within one topic are not independent, topics are. A topic drawn twice is two copies of its
    articles, in their predicted clusters: a copy pairs with the other copy's articles as the
    originals would, never with its own original."""
    topics: dict[str, list[Labelled]] = defaultdict(list)
    for item in items:
        topics[item.topic].append(item)
    names = sorted(topics)
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        sample: list[Labelled] = []
        renamed: dict[str, str] = {}
        for n, name in enumerate(rng.choices(names, k=len(names))):
            for item in topics[name]:
                copy = Labelled(
                    f"{n}:{item.key}",
                    item.record,
                    item.group,
                    item.relation,
                    item.role,
                    item.negative_of,
                    {"original": item.key},
                )
                sample.append(copy)
                renamed[copy.key] = predicted[item.key]
        values.append(score(sample, renamed))
    values.sort()
    return values[int(0.025 * rounds)], values[int(0.975 * rounds) - 1]
