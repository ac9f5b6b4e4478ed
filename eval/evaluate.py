"""Evaluate grouping on the labelled set in eval/articles.jsonl.

    .venv/bin/python -m eval.evaluate

Prints pairwise precision, recall and F1 (a pair of articles is positive when both are versions
of one report) and false merges (predicted clusters that hold articles of more than one report),
for the project's method, for the method with one lever switched off at a time, and for plain
MinHash over 5-word shingles of the body at two thresholds — all on the same set.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from datasketch import MinHash, MinHashLSH

from pipelines.group.grouper import GroupOptions, group_batch
from pipelines.group.text import words

EVAL_SET = Path(__file__).resolve().parent / "articles.jsonl"


def load(path: Path = EVAL_SET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def ours(options: GroupOptions) -> Callable[[list[dict[str, Any]]], dict[str, str]]:
    def run(rows: list[dict[str, Any]]) -> dict[str, str]:
        grouper = group_batch(((r["id"], r) for r in rows), options)
        return {key: a.cluster_id for key, a in grouper.assignments().items()}

    return run


def shingle_baseline(threshold: float, num_perm: int = 128) -> Callable[..., dict[str, str]]:
    """Plain near-duplicate detection: MinHash of the body's 5-word shingles, MinHashLSH at
    `threshold`, clusters = connected components of pairs whose estimated Jaccard reaches it."""

    def run(rows: list[dict[str, Any]]) -> dict[str, str]:
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        sketches = {}
        for r in rows:
            tokens = words(r["text"])
            shingles = {" ".join(tokens[i : i + 5]) for i in range(max(len(tokens) - 4, 1))}
            mh = MinHash(num_perm=num_perm)
            mh.update_batch(s.encode("utf-8") for s in shingles)
            sketches[r["id"]] = mh
            lsh.insert(r["id"], mh)
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


def scores(labels: dict[str, str], predicted: dict[str, str]) -> dict[str, float]:
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(labels), 2):
        same, together = labels[a] == labels[b], predicted[a] == predicted[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    clusters: dict[str, set[str]] = {}
    for key, cluster in predicted.items():
        clusters.setdefault(cluster, set()).add(labels[key])
    false_merges = sum(len(reports) > 1 for reports in clusters.values())
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_pairs": fp,
        "false_merges": false_merges,
        "clusters": len(clusters),
    }


def methods() -> Iterable[tuple[str, Callable[[list[dict[str, Any]]], dict[str, str]]]]:
    base = GroupOptions()
    yield "this project (defaults)", ours(base)
    yield "  without the source gate", ours(replace(base, source_gate=False))
    yield "  without the time window", ours(replace(base, window_hours=1e9))
    yield "  without IDF weights", ours(replace(base, idf=False))
    yield "  without skipping recurring paragraphs", ours(replace(base, skip_recurring=False))
    yield (
        "  without same-source candidates (MinHashLSH only)",
        ours(replace(base, source_candidates=0)),
    )
    low, high = base.rewrite_threshold, base.rewrite_threshold_unsourced
    yield (
        f"  one threshold ({low}) with or without a shared source",
        ours(replace(base, rewrite_threshold_unsourced=low)),
    )
    yield (
        f"  one threshold ({high}) with or without a shared source",
        ours(replace(base, rewrite_threshold=high)),
    )
    yield "5-word shingle MinHash, Jaccard >= 0.5", shingle_baseline(0.5)
    yield "5-word shingle MinHash, Jaccard >= 0.2", shingle_baseline(0.2)


def seed_robustness(
    rows: list[dict[str, Any]], seeds: range, base: GroupOptions | None = None
) -> list[float]:
    """F1 for each MinHash seed: LSH retrieval is random, the result should not be."""
    labels = {r["id"]: r["label"] for r in rows}
    base = base or GroupOptions()
    return [scores(labels, ours(replace(base, seed=seed))(rows))["f1"] for seed in seeds]


CRAWL_BATCH = {
    "seed-000",
    "seed-001",
    "seed-002",
    "seed-003",
    "seed-004",
    "copy-001-aggregator",
    "amp-002",
    "cut-003-aggregator",
}


def main() -> None:
    rows = load()
    labels = {r["id"]: r["label"] for r in rows}
    positives = sum(labels[a] == labels[b] for a, b in itertools.combinations(sorted(labels), 2))
    print(
        f"{len(rows)} articles, {len(set(labels.values()))} reports, {positives} positive pairs\n"
    )
    print("| method | precision | recall | F1 | false pairs | false merges | clusters |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, method in methods():
        s = scores(labels, method(rows))
        print(
            f"| {name} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} "
            f"| {s['false_pairs']} | {s['false_merges']} | {s['clusters']} |"
        )
    print("\nF1 over MinHash seeds 1-20 (the evaluation set; the crawl's own batch of seed pages):")
    crawl_batch = [r for r in rows if r["id"] in CRAWL_BATCH]
    for name, base in [
        ("this project", GroupOptions()),
        ("without same-source candidates", GroupOptions(source_candidates=0)),
    ]:
        full, small = (
            seed_robustness(rows, range(1, 21), base),
            seed_robustness(crawl_batch, range(1, 21), base),
        )
        print(
            f"  {name}: {min(full):.2f}-{max(full):.2f}; {min(small):.2f}-{max(small):.2f}, "
            f"below 1.00 for {sum(f < 1 for f in small)} of 20 seeds"
        )


if __name__ == "__main__":
    main()
