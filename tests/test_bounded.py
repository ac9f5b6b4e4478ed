"""BoundedExtractor: extraction in worker processes, with size, time and memory bounds."""

from __future__ import annotations

import pytest
from pebble import ProcessExpired

from pipelines.extract.bounded import BoundedExtractor, Limits
from pipelines.extract.core import Outcome
from tests.conftest import MANIFEST
from tests.expected_pages import extract_seed
from tests.seeds import SEEDS

BODY = "<p>" + "Words of an ordinary paragraph in an ordinary article. " * 10 + "</p>"


@pytest.fixture(scope="module")
def runner():
    with BoundedExtractor(limits=Limits(max_chars=200_000, timeout=2, workers=2)) as bounded:
        yield bounded


def test_worker_gives_the_same_article_as_in_process(runner: BoundedExtractor) -> None:
    url = SEEDS["003"]["url"]
    html = MANIFEST.get(url).path.read_text("utf-8")
    outcome = runner.extract_sync(html, url, "espreso_global", "2026-01-01T00:00:00+00:00")
    assert outcome.article is not None
    expected = extract_seed("003")
    assert outcome.article["text"] == expected["text"]
    assert outcome.article["fetched_at"] == "2026-01-01T00:00:00+00:00"


def test_oversized_page_is_refused_before_parsing(runner: BoundedExtractor) -> None:
    outcome = runner.extract_sync("<p>x</p>" * 30_000, None, None)
    assert (outcome.reason, outcome.article) == ("too_large", None)
    assert "240,000 characters" in outcome.detail


def test_a_page_past_the_timeout_is_stopped_and_the_pool_goes_on(runner: BoundedExtractor) -> None:
    flood = "<html><body><div " + " ".join(f"a{i}='x'" for i in range(40_000)) + ">"
    slow = BoundedExtractor(limits=Limits(timeout=0.2, workers=1))
    try:
        outcome = slow.extract_sync(flood + BODY + "</div></body></html>", None, None)
        assert outcome.reason == "timeout"
        after = slow.extract_sync(
            f"<html><body><article>{BODY}</article></body></html>", None, None
        )
        assert after.article is not None
    finally:
        slow.close()


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (MemoryError(), "memory"),
        (ProcessExpired("killed", 9), "worker_died"),
        (ValueError("x"), "error"),
    ],
)
def test_failures_become_reasons(
    runner: BoundedExtractor, error: BaseException, reason: str
) -> None:
    from concurrent.futures import Future

    failed: Future[Outcome] = Future()
    failed.set_exception(error)
    assert runner.outcome(failed).reason == reason


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        Limits(timeout=0)
