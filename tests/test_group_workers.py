"""Grouping with articles described in worker processes gives the grouping of one process,
survives a worker that dies, and leaves no process behind."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eval.datasets import EVAL_SET, load_set
from pipelines.group import parallel
from pipelines.group.feed import FeedGrouping
from pipelines.group.grouper import Grouper


def _records() -> list[tuple[str, dict[str, Any]]]:
    """The evaluation set (seeds, copies, rewrites, two stories of one outlet sharing a
    background block: the paragraphs that recur make `add` describe again), then the same
    articles a month later at other addresses (verbatim copies of the first ones), oldest
    first, as the crawl and `scrapy dedup` add them."""
    items = [(i.key, dict(i.record)) for i in load_set(EVAL_SET).items]
    later = []
    for key, record in items:
        copy = dict(record, url=f"https://later.example/{key}")
        if record.get("published"):
            shifted = datetime.fromisoformat(record["published"]) + timedelta(days=31)
            copy["published"] = shifted.isoformat()
        later.append((f"later-{key}", copy))
    return items + later


def _grouped(workers: int, records: list[tuple[str, dict[str, Any]]]) -> list[tuple[Any, ...]]:
    grouper = Grouper()
    parallel.add_all(grouper, records, workers)
    assignments = grouper.assignments()
    return [(k, a.cluster_id, a.relation, a.similarity) for k, a in sorted(assignments.items())]


def _children() -> set[int]:
    """Processes whose parent is this one (zombies too)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        if int(text[text.rindex(")") + 2 :].split()[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool for the test's 56 articles, in several chunks, more than it takes ahead."""
    monkeypatch.setattr(parallel, "CHUNK", 4)
    monkeypatch.setattr(parallel, "MIN_ARTICLES", 10)


def test_workers_give_the_grouping_of_one_process_and_leave_no_process() -> None:
    records = _records()
    before = _children()
    alone = _grouped(1, records)
    assert _grouped(2, records) == alone
    assert _children() <= before  # the workers, the forkserver and the tracker are gone
    relations = {relation for _, _, relation, _ in alone}
    assert relations == {"original", "duplicate", "rewrite"}  # every path was taken


class _TitleThatKillsWorkers(str):
    """A title whose reading kills any process but the one that made it: a worker killed
    while it describes an article, as the kernel's out-of-memory killer would."""

    def __new__(cls, text: str) -> _TitleThatKillsWorkers:
        made = super().__new__(cls, text)
        made.made_by = os.getpid()
        return made

    def __str__(self) -> str:
        if os.getpid() != self.made_by:
            os._exit(9)
        return str.__str__(self)


def test_a_worker_that_dies_is_logged_once_and_the_grouping_is_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = _records()
    doomed = [
        (key, dict(record, title=_TitleThatKillsWorkers(record["title"])) if n == 21 else record)
        for n, (key, record) in enumerate(records)
    ]
    before = _children()
    with caplog.at_level(logging.WARNING, logger="pipelines.group.parallel"):
        assert _grouped(2, doomed) == _grouped(1, records)
    failures = [r for r in caplog.records if "a worker failed" in r.getMessage()]
    assert len(failures) == 1
    assert "prepared in the main process" in failures[0].getMessage()
    assert _children() <= before


def test_dedup_with_workers_writes_the_feed_one_process_writes(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({**r, "id": k}) + "\n" for k, r in _records()))
    outputs = []
    for workers in (1, 2):
        out, clusters = tmp_path / f"out{workers}.jsonl", tmp_path / f"clusters{workers}.jsonl"
        counts = FeedGrouping(progress="off", workers=workers).run(source, out, clusters)
        assert counts.grouped == len(_records())
        outputs.append((out.read_text(), clusters.read_text()))
    assert outputs[0] == outputs[1]
