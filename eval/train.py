"""Learning the verifier's coefficients and decision thresholds from labelled sets.

    .venv/bin/python -m eval.train --set ../shared/devsets/syndication-dev --set eval/articles.jsonl

fits a logistic regression (scikit-learn, balanced classes) on every labelled pair of the sets'
articles, picks the regularisation and the two thresholds that give the best pairwise F0.5
(precision weighing twice as much as recall: a wrong merge misleads the user, a missed version
only leaves a cluster short) when the same articles are grouped with them, the other sets
keeping F1 >= 0.95, and writes `pipelines/group/verifier.json` with what it was trained on.
`eval.evaluate --cv` runs the same procedure on some topics and scores the result on the
others.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import Labelled, load_set
from eval.metrics import PairCounts, pair_counts, pairs
from pipelines.group.describe import Description, describe
from pipelines.group.grouper import group_batch
from pipelines.group.published import PublishedAt
from pipelines.group.verify import COEFFICIENTS, FEATURES, Verifier, pair_features

REGULARISATION = (0.1, 1.0)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
FOUNDER_THRESHOLDS = (0.1, 0.25, 0.5)
WINDOW_DAYS = 7.0
FIRST_SET_SHARE = 0.8  # of the training weight, for the first set given (the real data)
SMALL_SET_F1 = 0.95  # what the other sets must reach
BETA = 0.5  # the real set's score is its pairwise F-beta: precision counts twice


class Memo:
    """describe() once per (text, skipped paragraphs): training groups the same articles many
    times."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, frozenset[str]], Description] = {}

    def __call__(self, record: Mapping[str, Any], skip: set[str]) -> Description:
        key = (_identity(record), frozenset(skip))
        if key not in self._seen:
            self._seen[key] = describe(record, skip)
        return self._seen[key]


def _identity(record: Mapping[str, Any]) -> str:
    blob = json.dumps([record.get(k) for k in ("url", "title", "text", "language")])
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=16).hexdigest()


def features(items: list[Labelled], memo: Memo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (one row per pair of items of one set that may be one report: see
    Verifier.compatible), y (1 for versions of one report) and the set of each pair."""
    described = {i.key: (memo(i.record, set()), PublishedAt.of(i.record)) for i in items}
    gate = Verifier((0.0,) * len(FEATURES), 0.0, window_days=WINDOW_DAYS)
    rows, labels, origin = [], [], []
    for a, b in itertools.combinations(items, 2):
        if a.extra.get("set") != b.extra.get("set"):
            continue
        (da, wa), (db, wb) = described[a.key], described[b.key]
        if not gate.compatible(da, db, wa, wb):
            continue
        rows.append(pair_features(da, db, wa, wb))
        labels.append(int(a.group == b.group))
        origin.append(str(a.extra.get("set", "")))
    return np.array(rows).reshape(-1, len(FEATURES)), np.array(labels), np.array(origin)


def group(items: Iterable[Labelled], verifier: Verifier, memo: Memo) -> dict[str, str]:
    grouper = group_batch(((i.key, i.record) for i in items), verifier=verifier, describer=memo)
    return {key: a.cluster_id for key, a in grouper.assignments().items()}


def fit(
    items: list[Labelled],
    memo: Memo | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Verifier, float]:
    """The verifier that groups `items` best, and its score on them (the first set's pairwise
    F-beta). With several sets (`extra["set"]`, the real data first) see `_weights` and
    `_objective`: a small set of hard cases is passed, not drowned, nor allowed to drown."""
    from sklearn.linear_model import LogisticRegression

    memo = memo or Memo()
    x, y, origin = features(items, memo)
    if y.sum() == 0:
        raise ValueError("the training articles have no positive pair")
    weights = _weights(y, origin)
    sets = list(dict.fromkeys(i.extra.get("set", "") for i in items))
    scored = {name: pairs([i for i in items if i.extra.get("set", "") == name]) for name in sets}
    best: tuple[tuple[float, float], Verifier] | None = None
    for c in REGULARISATION:
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(x, y, sample_weight=weights)
        coefficients = tuple(float(v) for v in model.coef_[0])
        for threshold, founder in itertools.product(THRESHOLDS, FOUNDER_THRESHOLDS):
            if founder > threshold:
                continue
            verifier = Verifier(
                coefficients, float(model.intercept_[0]), threshold, founder, WINDOW_DAYS
            )
            predicted = group(items, verifier, memo)
            score = _objective([pair_counts(p, predicted) for p in scored.values()])
            if log:
                log(
                    f"  C={c} threshold={threshold} founder={founder}: F{BETA:g} {score[1]:.3f},"
                    f" other sets short of F1 {SMALL_SET_F1} by {-score[0]:.3f}"
                )
            if best is None or _better(score, best[0]):
                best = (score, verifier)
    assert best is not None
    return best[1], best[0][1]


def _objective(counts: list[PairCounts]) -> tuple[float, float]:
    """How well a grouping does, compared as a tuple: first how far the other sets fall short
    of F1 SMALL_SET_F1 (negated: a small set of constructed hard cases must be passed), then
    the F-beta (`BETA`) of the first set, the real data (maximised, not traded for the small
    set's surplus)."""
    shortfall = sum(max(0.0, SMALL_SET_F1 - c.f1) for c in counts[1:])
    return -round(shortfall, 6), counts[0].fbeta(BETA)


def _better(score: tuple[float, float], than: tuple[float, float]) -> bool:
    return score[0] > than[0] or (score[0] == than[0] and score[1] > than[1] + 1e-9)


def _weights(y: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Balanced classes within each set; the first set weighs FIRST_SET_SHARE of the whole,
    the others share the rest."""
    weights = np.zeros(len(y))
    names = list(dict.fromkeys(origin.tolist()))
    for n, name in enumerate(names):
        share = (
            1.0
            if len(names) == 1
            else (FIRST_SET_SHARE if n == 0 else (1 - FIRST_SET_SHARE) / (len(names) - 1))
        )
        in_set = origin == name
        for label in (0, 1):
            chosen = in_set & (y == label)
            if chosen.any():
                weights[chosen] = len(y) * share / (2 * chosen.sum())
    return weights


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="a labelled set (repeat)")
    parser.add_argument("--out", default=str(COEFFICIENTS))
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    items: list[Labelled] = []
    trained_on = []
    for path in args.set:
        labelled = load_set(path)
        if labelled.missing:
            print(labelled.help)
        for item in labelled.items:  # keys and groups unique across sets
            item.key, item.group = f"{labelled.name}:{item.key}", f"{labelled.name}:{item.group}"
            item.extra["set"] = labelled.name
            if item.negative_of:
                item.negative_of = f"{labelled.name}:{item.negative_of}"
        items += labelled.items
        positives = sum(a.group == b.group for a, b in pairs(labelled.items))
        trained_on.append(
            {"set": labelled.name, "articles": len(labelled.items), "positive_pairs": positives}
        )
    verifier, score = fit(items, log=print if args.verbose else None)
    about = {
        "trained_on": trained_on,
        "trained": datetime.now(UTC).date().isoformat(),
        "training_objective": round(score, 3),
        "objective": f"pairwise F{BETA:g} of the first set, the others at F1 >= {SMALL_SET_F1}",
        "how": "python -m eval.train " + " ".join(f"--set {s}" for s in args.set),
    }
    with Path(args.out).open("w", encoding="utf-8") as f:
        json.dump(verifier.dump(about), f, indent=2)
        f.write("\n")
    print(
        f"wrote {args.out}: training objective {score:.3f}, threshold {verifier.threshold},"
        f" founder threshold {verifier.founder_threshold}"
    )


if __name__ == "__main__":
    main()
