"""On ordinary news pages of other sites, the project's extraction is no worse than trafilatura's
defaults: the general chrome rules must not eat article paragraphs nor let more chrome through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trafilatura

from pipelines.extract.core import Extractor

DATA = Path(__file__).parent / "data" / "generic"
EXPECTED = json.loads((DATA / "expected.json").read_text("utf-8"))["pages"]


def scores(paragraphs: list[str], expected: list[str]) -> tuple[float, float]:
    """(recall of the expected paragraphs, share of output paragraphs that are article text)"""
    found = sum(any(e in p for p in paragraphs) for e in expected)
    real = sum(any(e in p for e in expected) for p in paragraphs)
    return found / len(expected), real / max(len(paragraphs), 1)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_worse_than_trafilatura_defaults(name: str) -> None:
    html = (DATA / name).read_text("utf-8")
    url = f"https://{Path(name).stem}.example/story"
    baseline = trafilatura.extract(html, url=url) or ""
    ours = Extractor().extract(html, url=url).article
    assert ours is not None
    base_recall, base_precision = scores(baseline.splitlines(), EXPECTED[name])
    recall, precision = scores(ours["text"].split("\n\n"), EXPECTED[name])
    assert recall >= base_recall
    assert precision >= base_precision
    assert recall == 1.0  # these pages are easy: every paragraph must come through
