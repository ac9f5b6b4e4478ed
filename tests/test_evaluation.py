"""The evaluation tools on a labelled folder laid out like ../shared/devsets/syndication-dev."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from eval.datasets import EVAL_SET, load_set
from eval.metrics import PairCounts, bcubed_f1, pair_counts, pairs
from tests.conftest import ROOT

ROWS = {item.key: item.record for item in load_set(EVAL_SET).items}


def write_labels(folder: Path, ids: list[str], missing: str) -> None:
    """Labels for some synthetic articles of eval/articles.jsonl, texts for all but one."""
    texts = folder / "texts"
    texts.mkdir(parents=True)
    lines = []
    for key in ids:
        row = ROWS[key]
        cluster = row["label"]
        lines.append(
            {
                "id": key,
                "url": row["url"],
                "cluster": cluster,
                "role": "member",
                "negative_of": None,
                "relation": "rewrite",
                "title": row["title"],
                "published": row["published"],
                "language": "en",
                "query": "not needed here",
            }
        )
        if key != missing:
            (texts / f"{key}.txt").write_text(f"{row['url']}\n date 2025-03\n{row['text']}")
    (folder / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_a_labels_folder_is_evaluated_with_what_texts_there_are(tmp_path: Path) -> None:
    ids = ["s1-herald", "s1-ledger", "s1-wire", "s1-appeal", "s2-lumen", "s3-ledger"]
    write_labels(tmp_path / "set", ids, missing="s3-ledger")
    loaded = load_set(tmp_path / "set", tmp_path / "set" / "texts")
    assert [i.key for i in loaded.items] == ids[:-1] and loaded.missing == ["s3-ledger"]
    assert not loaded.items[0].record["text"].startswith(" date")  # the store's line is dropped
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "eval.evaluate",
            "--set",
            str(tmp_path / "set"),
            "--texts",
            str(tmp_path / "set" / "texts"),
            "--bootstrap",
            "50",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 of the pages labelled" in proc.stderr and "s3-ledger" in proc.stderr
    assert "the `search` tool" in proc.stderr  # how to get the texts
    assert "set: 5 articles, 3 reports, 3 positive pairs" in proc.stdout
    # the fine's three versions together, its appeal and the pilots' vote apart
    assert "| all | 1.00 | 1.00 | 1.00" in proc.stdout


def test_pair_counts_and_bcubed() -> None:
    items = load_set(EVAL_SET).items[:5]  # the seeds: 000, 001, 002 one report
    truth = {i.key: i.group for i in items}
    assert pair_counts(pairs(items), truth) == PairCounts(tp=3, fp=0, fn=0)
    assert bcubed_f1(items, truth) == 1.0
    one = dict.fromkeys(truth, "x")
    counts = pair_counts(pairs(items), one)
    assert (counts.tp, counts.fp, counts.fn) == (3, 7, 0)
    assert counts.precision == 0.3 and bcubed_f1(items, one) < 1.0


def test_errors_show_the_probability_of_the_verifier_that_grouped_the_pair() -> None:
    """With --cv each fold is grouped by its own verifier: a missed pair is listed with that
    verifier's probability, not the shipped one's."""
    from eval.evaluate import Scored, errors
    from pipelines.group.verify import FEATURES, Verifier

    a, b = load_set(EVAL_SET).items[:2]  # seeds 000 and 001: one report
    assert a.group == b.group
    coin = Verifier((0.0,) * len(FEATURES), 0.0)  # p = 0.50 whatever the pair
    shipped = Verifier.load()
    (by_fold,) = errors([Scored(a, b, False, coin)], shipped)
    (by_shipped,) = errors([Scored(a, b, False)], shipped)
    assert "p=0.50;" in by_fold and by_fold.startswith("missed")
    assert "p=0.50;" not in by_shipped
