"""Evaluate grouping on a labelled set.

    .venv/bin/python -m eval.evaluate                       # eval/articles.jsonl, shipped verifier
    .venv/bin/python -m eval.evaluate --set ../shared/devsets/syndication-dev --cv 4 --errors

Prints pairwise precision, recall and F1 (a pair of articles is positive when both are versions
of one report), false pairs and their share of the predicted pairs, the same within one
language and across languages, recall by kind of version (verbatim, rewrite, translation), the
hard negatives put with a version of their report by kind, and 95% bootstrap intervals
(resampling topics); B-cubed F1 for a single grouping. With `--cv K` the figures are
cross-validated by topic: for each fold the verifier is trained (`eval.train.fit`) on the other
folds' topics, all the articles are grouped with it, and the pairs with an article of the fold
are scored -- never a pair the verifier was trained on. Without `--cv` the shipped verifier is
used: on a set it was trained on, that figure is not an estimate of anything. `--errors` lists
the missed and the false pairs with the verifier's probability and the features behind it.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from eval.datasets import EVAL_SET, Labelled, LabelledSet, load_set
from eval.metrics import (
    Pair,
    PairCounts,
    Predicted,
    bcubed_f1,
    pair_counts,
    pair_kind,
    pairs,
)
from eval.train import BETA, Memo, fit, group
from pipelines.group.published import PublishedAt
from pipelines.group.text import words
from pipelines.group.verify import FEATURES, Verifier, pair_features


def same_language(pair: Pair) -> bool:
    return pair[0].language == pair[1].language


@dataclass(frozen=True)
class Scored:
    """A pair of labelled articles and whether the grouping put them together."""

    a: Labelled
    b: Labelled
    together: bool
    verifier: Verifier | None = None  # what grouped them, when not the shipped one (--cv)

    @property
    def same(self) -> bool:
        return self.a.group == self.b.group


def scored_pairs(
    items: list[Labelled], predicted: Predicted, verifier: Verifier | None = None
) -> list[Scored]:
    return [Scored(a, b, predicted[a.key] == predicted[b.key], verifier) for a, b in pairs(items)]


def cross_validate(
    items: list[Labelled], folds: int, seed: int = 0, log: Callable[[str], None] = print
) -> list[Scored]:
    """Each fold's topics scored with a verifier trained on the other folds' topics. All the
    articles are grouped together, as a crawl would meet them; the pairs scored for a fold are
    those with an article of the fold (a pair across two folds is scored in both)."""
    topics = sorted({i.topic for i in items})
    random.Random(seed).shuffle(topics)
    fold_of_topic = {t: n % folds for n, t in enumerate(topics)}
    fold = {i.key: fold_of_topic[i.topic] for i in items}
    scored: list[Scored] = []
    memo = Memo()
    for n in range(folds):
        train = [i for i in items if fold[i.key] != n]
        verifier, score = fit(train, memo)
        test = sorted({i.topic for i in items if fold[i.key] == n})
        log(
            f"  fold {n + 1}: trained on {len(train)} articles (F{BETA:g} {score:.2f}, threshold"
            f" {verifier.threshold}, founder {verifier.founder_threshold}); scored:"
            f" {', '.join(test)}"
        )
        predicted = group(items, verifier, memo)
        scored += [
            s
            for s in scored_pairs(items, predicted, verifier)
            if fold[s.a.key] == n or fold[s.b.key] == n
        ]
    return scored


def counts_of(scored: Iterable[Scored], keep: Callable[[Pair], bool] | None = None) -> PairCounts:
    counts = PairCounts()
    for s in scored:
        if keep is not None and not keep((s.a, s.b)):
            continue
        counts.add(s.same, s.together)
    return counts


def bootstrap_counts(
    scored: list[Scored],
    keep: Callable[[Pair], bool] | None,
    statistic: Callable[[PairCounts], float],
    rounds: int,
    seed: int = 7,
) -> tuple[float, float]:
    """95% interval of `statistic` over resamples of topics (a report with its negatives):
    pairs within a topic are not independent, topics are. A topic drawn k times contributes
    its pairs with every other drawn topic k times, and its own pairs k(k+1)/2 times."""
    by_topics: dict[tuple[str, str], PairCounts] = defaultdict(PairCounts)
    for s in scored:
        if keep is not None and not keep((s.a, s.b)):
            continue
        key = tuple(sorted((s.a.topic, s.b.topic)))
        by_topics[key].add(s.same, s.together)  # type: ignore[index]
    topics = sorted({s.a.topic for s in scored} | {s.b.topic for s in scored})
    rng = random.Random(seed)
    values = []
    for _ in range(rounds):
        drawn = Counter(rng.choices(topics, k=len(topics)))
        total = PairCounts()
        for (t, u), counts in by_topics.items():
            times = drawn[t] * (drawn[t] + 1) // 2 if t == u else drawn[t] * drawn[u]
            total.tp += times * counts.tp  # a topic pair's counts, `times` over
            total.fp += times * counts.fp
            total.fn += times * counts.fn
        values.append(statistic(total))
    values.sort()
    return values[int(0.025 * rounds)], values[int(0.975 * rounds) - 1]


def report(items: list[Labelled], scored: list[Scored], rounds: int) -> list[str]:
    def f1(counts: PairCounts) -> float:
        return counts.f1

    def false_share(counts: PairCounts) -> float:
        return counts.fp / counts.predicted if counts.predicted else 0.0

    lines = ["| pairs | precision | recall | F1 (95% interval) | false pairs | predicted |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, keep in (
        ("all", None),
        ("one language", same_language),
        ("two languages", lambda p: not same_language(p)),
    ):
        counts = counts_of(scored, keep)
        low, high = bootstrap_counts(scored, keep, f1, rounds)
        lines.append(
            f"| {name} | {counts.precision:.2f} | {counts.recall:.2f} | {counts.f1:.2f}"
            f" ({low:.2f}-{high:.2f}) | {counts.fp} | {counts.predicted} |"
        )
    everything = counts_of(scored)
    low, high = bootstrap_counts(scored, None, false_share, rounds)
    lines.append("")
    lines.append(
        f"False pairs: {false_share(everything):.1%} of the predicted pairs ({low:.1%}-{high:.1%})."
    )
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for s in scored:
        if s.same:
            kind = pair_kind((s.a, s.b))
            total[kind] += 1
            found[kind] += s.together
    lines.append(
        "Recall by kind of version: "
        + ", ".join(f"{k} {found[k]}/{total[k]} ({found[k] / total[k]:.2f})" for k in sorted(total))
        + "."
    )
    merged: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    for item in items:
        if item.role == "negative" and item.negative_of:
            negatives[item.relation or "negative"] += 1
    seen: set[str] = set()
    for s in scored:
        for neg, other in ((s.a, s.b), (s.b, s.a)):
            if (
                neg.role == "negative"
                and other.role == "member"
                and other.group == neg.negative_of
                and s.together
                and neg.key not in seen
            ):
                seen.add(neg.key)
                merged[neg.relation or "negative"] += 1
    if negatives:
        lines.append(
            "Hard negatives put with a version of the report they are a negative of: "
            + ", ".join(f"{k} {merged[k]}/{negatives[k]}" for k in sorted(negatives))
            + "."
        )
    return lines


def errors(scored: list[Scored], verifier: Verifier) -> list[str]:
    """Each missed and false pair with the probability that decided it: the fold's verifier
    when cross-validated (a pair across two folds is listed for each), else `verifier`."""
    memo = Memo()
    lines = set()
    for s in scored:
        if s.same == s.together:
            continue
        a, b = s.a, s.b
        x = pair_features(
            memo(a.record, set()),
            memo(b.record, set()),
            PublishedAt.of(a.record),
            PublishedAt.of(b.record),
        )
        shown = ", ".join(f"{n}={v:.2f}" for n, v in zip(FEATURES, x, strict=True) if v)
        what = f"missed ({pair_kind((a, b))})" if s.same else f"false ({b.relation or a.relation})"
        p = (s.verifier or verifier).probability(x)
        lines.add(f"{what}: {a.key} / {b.key}: p={p:.2f}; {shown}")
    return sorted(lines)


def shingle_minhash(text: str, num_perm: int = 128) -> MinHash:
    """MinHash of a text's 5-word shingles: plain near-duplicate detection's sketch."""
    tokens = words(text)
    shingles = {" ".join(tokens[i : i + 5]) for i in range(max(len(tokens) - 4, 1))}
    sketch = MinHash(num_perm=num_perm)
    sketch.update_batch([s.encode("utf-8") for s in shingles])
    return sketch


def shingle_baseline(
    threshold: float, num_perm: int = 128
) -> Callable[[list[Labelled]], Predicted]:
    """Plain near-duplicate detection: MinHash of the body's 5-word shingles, MinHashLSH at
    `threshold`, clusters = connected components of pairs whose estimated Jaccard reaches it."""

    def run(items: list[Labelled]) -> Predicted:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        sketches = {}
        for item in items:
            mh = shingle_minhash(str(item.record.get("text") or ""), num_perm)
            sketches[item.key] = mh
            lsh.insert(item.key, mh)
        parent = {key: key for key in sketches}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for key, mh in sketches.items():
            for other in lsh.query(mh):
                if other != key and mh.jaccard(sketches[other]) >= threshold:
                    parent[find(key)] = find(other)
        return {key: find(key) for key in sketches}

    return run


def evaluate(labelled: LabelledSet, cv: int, rounds: int, show_errors: bool) -> None:
    items = labelled.items
    positives = sum(a.group == b.group for a, b in pairs(items))
    languages = len({i.language for i in items})
    reports = len({i.group for i in items if i.role == "member"})
    print(
        f"{labelled.name}: {len(items)} articles, {reports} reports, {positives} positive"
        f" pairs, {languages} languages\n"
    )
    verifier = Verifier.load()
    if cv:
        print(f"Cross-validated by topic, {cv} folds:")
        scored = cross_validate(items, cv)
        print()
    else:
        trained_on = [t["set"] for t in (verifier.about or {}).get("trained_on", [])]
        note = " (trained on this set: not an estimate)" if labelled.name in trained_on else ""
        print(f"Shipped verifier{note}:")
        predicted = group(items, verifier, Memo())
        scored = scored_pairs(items, predicted)
    print("\n".join(report(items, scored, rounds)))
    if not cv:
        print(f"B-cubed F1 {bcubed_f1(items, predicted):.2f}.")
    if not cv:
        print("\n| baseline | precision | recall | F1 | false pairs |\n|---|---:|---:|---:|---:|")
        for threshold in (0.5, 0.2):
            counts = pair_counts(pairs(items), shingle_baseline(threshold)(items))
            print(
                f"| 5-word shingle MinHash, Jaccard >= {threshold} | {counts.precision:.2f}"
                f" | {counts.recall:.2f} | {counts.f1:.2f} | {counts.fp} |"
            )
    if show_errors:
        print("\nErrors:")
        print("\n".join(errors(scored, verifier)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default=str(EVAL_SET), help="labelled set (JSONL or folder)")
    parser.add_argument("--texts", help="folder of page texts for a labels folder")
    parser.add_argument("--cv", type=int, default=0, help="cross-validate with K folds")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap rounds")
    parser.add_argument("--errors", action="store_true", help="list missed and false pairs")
    args = parser.parse_args(argv)
    labelled = load_set(args.set, args.texts)
    if labelled.missing:
        print(labelled.help, file=sys.stderr)
    if not labelled.items:
        raise SystemExit("no labelled article has a text: nothing to evaluate")
    evaluate(labelled, args.cv, args.bootstrap, args.errors)


if __name__ == "__main__":
    main()
