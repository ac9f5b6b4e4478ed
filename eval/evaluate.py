"""Evaluate grouping on a labelled set.

    .venv/bin/python -m eval.evaluate                       # eval/articles.jsonl, shipped verifier
    .venv/bin/python -m eval.evaluate --set ../shared/devsets/syndication-dev --cv 4 --errors

Prints pairwise precision, recall and F1 (a pair of articles is positive when both are versions
of one report), false pairs and their share of the predicted pairs, B-cubed F1, the same within
one language and across languages, recall by kind of version (verbatim, rewrite, translation),
the hard negatives merged into their report's cluster by kind, and 95% bootstrap intervals
(resampling topics). With `--cv K` the figures are cross-validated by topic: the verifier is
trained (`eval.train.fit`) on the other folds' topics and scored on each fold's, never on the
articles it was trained on. Without `--cv` the shipped verifier is used: on a set it was trained
on, that figure is not an estimate of anything. `--errors` lists the missed and the false pairs
with the verifier's probability and the features behind it.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from typing import Any

from datasketch import MinHash, MinHashLSH

from eval.datasets import EVAL_SET, Labelled, LabelledSet, load_set
from eval.metrics import (
    Pair,
    bcubed_f1,
    bootstrap,
    negatives_merged,
    pair_counts,
    pair_kind,
    pairs,
    recall_by_kind,
)
from eval.train import Memo, fit, group
from pipelines.group.describe import PublishedAt
from pipelines.group.text import words
from pipelines.group.verify import FEATURES, Verifier, pair_features

Predicted = dict[str, str]


def same_language(pair: Pair) -> bool:
    return pair[0].language == pair[1].language


def cross_validate(
    items: list[Labelled], folds: int, seed: int = 0, log: Callable[[str], None] = print
) -> tuple[Predicted, dict[str, int]]:
    """Predictions for every item from a verifier trained without its topic; item -> fold."""
    topics = sorted({i.topic for i in items})
    random.Random(seed).shuffle(topics)
    fold_of_topic = {t: n % folds for n, t in enumerate(topics)}
    fold = {i.key: fold_of_topic[i.topic] for i in items}
    predicted: Predicted = {}
    memo = Memo()
    for n in range(folds):
        train = [i for i in items if fold[i.key] != n]
        test = [i for i in items if fold[i.key] == n]
        verifier, f1 = fit(train, memo)
        log(
            f"  fold {n + 1}: trained on {len(train)} articles (F1 {f1:.2f}, threshold"
            f" {verifier.threshold}, founder {verifier.founder_threshold}), tested on"
            f" {len(test)}: {', '.join(sorted({i.topic for i in test}))}"
        )
        predicted.update({k: f"{n}:{c}" for k, c in group(test, verifier, memo).items()})
    return predicted, fold


def report(
    items: list[Labelled],
    predicted: Predicted,
    within: Callable[[Labelled], object] | None,
    rounds: int,
) -> list[str]:
    scored = pairs(items, within)
    everything = pair_counts(scored, predicted)
    one = pair_counts(scored, predicted, same_language)
    two = pair_counts(scored, predicted, lambda p: not same_language(p))

    def f1_of(keep: Callable[[Pair], bool] | None) -> Callable[[list[Labelled], Any], float]:
        return lambda sample, pred: pair_counts(pairs(sample, within_sample(sample)), pred, keep).f1

    def within_sample(sample: list[Labelled]) -> Callable[[Labelled], object] | None:
        if within is None:
            return None
        return lambda item: within(_original(item))

    originals = {i.key: i for i in items}

    def _original(item: Labelled) -> Labelled:
        return originals[item.key.split(":", 1)[1]]

    def share_false(sample: list[Labelled], pred: Any) -> float:
        counts = pair_counts(pairs(sample, within_sample(sample)), pred)
        return counts.fp / counts.predicted if counts.predicted else 0.0

    lines = ["| pairs | precision | recall | F1 (95% interval) | false pairs | predicted |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, counts, keep in (
        ("all", everything, None),
        ("one language", one, same_language),
        ("two languages", two, lambda p: not same_language(p)),
    ):
        low, high = bootstrap(items, predicted, f1_of(keep), rounds)
        lines.append(
            f"| {name} | {counts.precision:.2f} | {counts.recall:.2f} | {counts.f1:.2f}"
            f" ({low:.2f}-{high:.2f}) | {counts.fp} | {counts.predicted} |"
        )
    low, high = bootstrap(items, predicted, share_false, rounds)
    share = everything.fp / everything.predicted if everything.predicted else 0.0
    lines.append("")
    lines.append(
        f"False pairs: {share:.1%} of the predicted pairs ({low:.1%}-{high:.1%});"
        f" B-cubed F1 {bcubed_f1(items, predicted):.2f}."
    )
    kinds = recall_by_kind(scored, predicted)
    lines.append(
        "Recall by kind of version: "
        + ", ".join(f"{k} {f}/{t} ({f / t:.2f})" for k, (f, t) in kinds.items())
        + "."
    )
    merged = negatives_merged(items, predicted)
    if merged:
        lines.append(
            "Hard negatives merged into their report's cluster: "
            + ", ".join(f"{k} {m}/{t}" for k, (m, t) in merged.items())
            + "."
        )
    return lines


def errors(
    items: list[Labelled],
    predicted: Predicted,
    within: Callable[[Labelled], object] | None,
    verifier: Verifier,
) -> list[str]:
    memo = Memo()
    lines = []
    for a, b in pairs(items, within):
        same, together = a.group == b.group, predicted[a.key] == predicted[b.key]
        if same == together:
            continue
        x = pair_features(
            memo(a.record, set()),
            memo(b.record, set()),
            PublishedAt.of(a.record),
            PublishedAt.of(b.record),
        )
        shown = ", ".join(f"{n}={v:.2f}" for n, v in zip(FEATURES, x, strict=True) if v)
        what = f"missed ({pair_kind((a, b))})" if same else f"false ({b.relation or a.relation})"
        lines.append(f"{what}: {a.key} / {b.key}: p={verifier.probability(x):.2f}; {shown}")
    return sorted(lines)


def shingle_baseline(
    threshold: float, num_perm: int = 128
) -> Callable[[list[Labelled]], Predicted]:
    """Plain near-duplicate detection: MinHash of the body's 5-word shingles, MinHashLSH at
    `threshold`, clusters = connected components of pairs whose estimated Jaccard reaches it."""

    def run(items: list[Labelled]) -> Predicted:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        sketches = {}
        for item in items:
            tokens = words(str(item.record.get("text") or ""))
            shingles = {" ".join(tokens[i : i + 5]) for i in range(max(len(tokens) - 4, 1))}
            mh = MinHash(num_perm=num_perm)
            mh.update_batch(s.encode("utf-8") for s in shingles)
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
        predicted, fold = cross_validate(items, cv)
        within: Callable[[Labelled], object] | None = lambda item: fold[item.key]  # noqa: E731
        print()
    else:
        trained_on = [t["set"] for t in (verifier.about or {}).get("trained_on", [])]
        note = " (trained on this set: not an estimate)" if labelled.name in trained_on else ""
        print(f"Shipped verifier{note}:")
        predicted = group(items, verifier, Memo())
        within = None
    print("\n".join(report(items, predicted, within, rounds)))
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
        print("\n".join(errors(items, predicted, within, verifier)))


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
