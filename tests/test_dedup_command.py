"""`scrapy dedup` on feeds: this project's, a minimal one, and one with bad lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from eval.evaluate import EVAL_SET
from tests.conftest import ROOT, read_jsonl, run_scrapy

CLUSTER_SCHEMA = json.loads((ROOT / "crawler/schemas/cluster.schema.json").read_text("utf-8"))


def test_dedup_groups_a_feed_and_names_the_lines_it_cannot_use(tmp_path: Path) -> None:
    rows = read_jsonl(EVAL_SET)
    source = tmp_path / "in.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines[3:3] = ["{not json", json.dumps({"url": "https://x.example/no-text"}), "[1, 2]", ""]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, clusters = tmp_path / "out.jsonl", tmp_path / "clusters.jsonl"
    proc = run_scrapy("dedup", str(source), "-o", str(out), "--clusters", str(clusters))
    assert proc.returncode == 0, proc.stderr[-2000:]
    grouped = read_jsonl(out)
    assert [g["id"] for g in grouped] == [r["id"] for r in rows]  # input order, bad lines out
    for row, original in zip(grouped, rows, strict=True):
        assert {k: row[k] for k in original} == original  # every input field written back
        assert row["relation"] in {"original", "duplicate", "rewrite"}
    by_id = {g["id"]: g for g in grouped}
    assert by_id["seed-000"]["cluster_id"] == by_id["seed-001"]["cluster_id"]
    assert by_id["seed-003"]["cluster_id"] != by_id["seed-000"]["cluster_id"]
    assert "line 4 skipped: not a JSON object" in proc.stderr
    assert "line 5 skipped: no 'text'" in proc.stderr
    assert "line 6 skipped: a JSON list, not an object" in proc.stderr
    assert "line 7" not in proc.stderr  # a blank line is not worth a message
    validator = jsonschema.Draft202012Validator(CLUSTER_SCHEMA)
    summaries = read_jsonl(clusters)
    assert {c["id"] for c in summaries} == {g["cluster_id"] for g in grouped}
    for cluster in summaries:
        assert list(validator.iter_errors(cluster)) == []


def test_a_minimal_feed_of_another_tool_can_be_grouped_in_place(tmp_path: Path) -> None:
    rows = [r for r in read_jsonl(EVAL_SET) if r["id"].startswith(("seed-", "copy-"))]
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "".join(
            json.dumps({"link": r["url"], "url": r["url"], "text": r["text"]}) + "\n" for r in rows
        ),
        encoding="utf-8",
    )
    proc = run_scrapy("dedup", str(feed), "-o", str(feed), "--progress", "on")
    assert proc.returncode == 0, proc.stderr[-2000:]
    grouped = read_jsonl(feed)
    assert len(grouped) == len(rows) and all("link" in g and "cluster_id" in g for g in grouped)
    copy = next(g for g in grouped if "2024/10/24" in g["url"])
    source = next(g for g in grouped if g["url"].startswith("https://kyivindependent.com/"))
    assert copy["cluster_id"] == source["cluster_id"]
    assert "it/s" in proc.stderr or "B/s" in proc.stderr  # the progress bar was shown


def test_usage_errors(tmp_path: Path) -> None:
    missing = run_scrapy("dedup", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.jsonl"))
    assert missing.returncode == 2 and "is not a file" in missing.stderr
    (tmp_path / "bad.jsonl").write_text("nothing useful\n")
    useless = run_scrapy("dedup", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o.jsonl"))
    assert useless.returncode == 1 and "line 1 skipped" in useless.stderr
    no_workers = run_scrapy(
        "dedup", str(tmp_path / "bad.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--workers", "0"
    )
    assert no_workers.returncode == 2 and "--workers must be at least 1" in no_workers.stderr


def test_outputs_that_would_destroy_the_input_are_refused(tmp_path: Path) -> None:
    feed = tmp_path / "in.jsonl"
    feed.write_text(EVAL_SET.read_text("utf-8"), encoding="utf-8")
    before = feed.read_bytes()
    cases = [
        (["-o", str(tmp_path / "out.jsonl"), "--clusters", str(feed)], "is the input"),
        (["-o", str(tmp_path / "o.jsonl"), "--clusters", str(tmp_path / "o.jsonl")], "same file"),
        (["-o", str(feed), "--clusters", str(feed)], "same file"),
        (["-o", str(tmp_path)], "is a directory"),
        (["-o", str(tmp_path / "o.jsonl"), "--clusters", str(tmp_path)], "is a directory"),
    ]
    for options, words in cases:
        proc = run_scrapy("dedup", str(feed), *options)
        refused = [line for line in proc.stderr.splitlines() if "refused" in line]
        assert proc.returncode == 2 and len(refused) == 1 and words in refused[0], proc.stderr
        assert "Traceback" not in proc.stderr
        assert feed.read_bytes() == before
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "o.jsonl").exists()


def test_hostile_json_lines_are_named_and_the_rest_is_grouped(tmp_path: Path) -> None:
    import gzip

    rows = read_jsonl(EVAL_SET)
    good = [json.dumps(r, ensure_ascii=False) for r in rows[:5]]  # the seeds
    hostile = [
        '{"url": "https://x.example/s", "text": "a lone \\ud800 surrogate in the text"}',
        "[" * 200_000,
        '{"url": "https://x.example/n", "text": "not a number", "score": NaN}',
        '{"url": "https://x.example/d", "text": "a bad date", "published": "9999-99-99T99:99"}',
        json.dumps({**rows[0], "title": "the same url again"}),
    ]
    feed = tmp_path / "in.jsonl.gz"
    feed.write_bytes(gzip.compress(("\n".join(good + hostile) + "\n").encode("utf-8")))
    out = tmp_path / "out.jsonl"
    proc = run_scrapy("dedup", str(feed), "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "line 6 skipped: a lone surrogate" in proc.stderr
    assert "line 7 skipped: JSON nested too deeply" in proc.stderr
    assert "line 8 skipped: not a JSON object (NaN is not a JSON value" in proc.stderr
    assert "line 9: 'published' '9999-99-99T99:99' is not an ISO 8601 date; ignored" in proc.stderr
    assert "line 10 skipped: the same url as line 1; kept once" in proc.stderr
    lines = out.read_text("utf-8").splitlines()
    grouped = [json.loads(line) for line in lines]  # every line valid JSON
    assert [g.get("id") for g in grouped] == [r["id"] for r in rows[:5]] + [None]
    assert grouped[-1]["published"] == "9999-99-99T99:99"  # written back as it was
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(feed.read_bytes()[:200])
    proc = run_scrapy("dedup", str(broken), "-o", str(tmp_path / "o.jsonl"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot group" in proc.stderr


def test_commands_do_not_import_grouping_until_it_runs() -> None:
    """Scrapy imports every command's module for every command (`scrapy list`, `scrapy
    extract`...): grouping's imports (datasketch with scipy, wordfreq), a second of start-up,
    wait until `scrapy dedup` runs."""
    probe = (
        "import sys, crawler.commands.dedup, crawler.commands.extract, crawler.commands.crawl;"
        "print(sorted(m for m in ('datasketch', 'scipy', 'wordfreq') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"
