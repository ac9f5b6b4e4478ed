"""Grouping on every core: articles are prepared (fingerprinted, described, signed) in worker
processes ahead of the one process that indexes them in order.

`Grouper.add` is sequential -- each article is compared with those indexed before it -- but
most of its time goes to work that depends on the article alone (`Prepared.of`: tokens, terms,
anchors, sources, MinHash signatures). `prepared(items, options, workers)` runs that work in a
pebble pool, at most a few chunks ahead of the caller (memory stays bounded on any input), and
yields the items back in their order with what was prepared. The result is the grouping of the
same articles added one by one: `add` re-describes the few articles whose paragraphs recur in
the index.

When a worker fails (killed, out of memory), one line is logged and the articles not yet
prepared are prepared in this process. The pool's processes, the forkserver and
multiprocessing's helpers all end with it (`pipelines.processes`), also on Ctrl-C.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sized
from concurrent.futures import Future
from itertools import islice
from typing import Any

from pebble import ProcessPool

from pipelines import processes
from pipelines.group.grouper import Grouper, Prepared
from pipelines.group.options import GroupOptions

logger = logging.getLogger(__name__)

CHUNK = 64  # articles a worker prepares per task: amortises the pickling round trip
MIN_ARTICLES = 2000  # fewer are grouped in this process: starting workers costs ~1 s

Item = tuple[str, Mapping[str, Any]]


def add_all(grouper: Grouper, items: Iterable[Item], workers: int = 1, count: int = 0) -> None:
    """`grouper.add` every (key, record), in order, preparing them in `workers` processes
    (1: in this process). `count`: how many items there are (`len(items)` when it has one);
    fewer than MIN_ARTICLES are added in this process."""
    if isinstance(items, Sized):
        count = len(items)
    if workers <= 1 or count < MIN_ARTICLES:
        for key, record in items:
            grouper.add(key, record)
        return
    for key, record, ready in prepared(items, grouper.options, workers):
        grouper.add(key, record, ready)


def prepared(
    items: Iterable[Item], options: GroupOptions, workers: int
) -> Iterator[tuple[str, Mapping[str, Any], Prepared | None]]:
    """(key, record, prepared) for each item, in order; `prepared` is None where a worker
    failed (`Grouper.add` then computes it)."""
    source = iter(items)
    processes.pool_started()
    pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("forkserver"))
    interrupted = False
    failed = False  # once the workers fail, the rest is prepared here (one log line)
    try:
        ahead: deque[tuple[list[Item], Future[list[Prepared]] | None]] = deque()

        def submit() -> bool:
            chunk = list(islice(source, CHUNK))
            if chunk:
                records = [record for _, record in chunk]
                ahead.append(
                    (chunk, None if failed else pool.schedule(_prepare, (records, options)))
                )
            return bool(chunk)

        while len(ahead) < 3 * workers and submit():
            pass
        while ahead:
            chunk, future = ahead.popleft()
            results: list[Prepared | None] = [None] * len(chunk)
            if future is not None:
                try:
                    results = list(future.result())
                except Exception as error:  # a worker died or failed: prepared here instead
                    if not failed:
                        logger.warning(
                            "grouping: a worker failed at %(key)s (%(error)s); the remaining"
                            " articles are prepared in the main process",
                            {"key": chunk[0][0], "error": error or type(error).__name__},
                        )
                    failed = True
            for (key, record), ready in zip(chunk, results, strict=True):
                yield key, record, ready
            submit()
    except BaseException:
        interrupted = True
        raise
    finally:
        if interrupted or failed:
            pool.stop()
        else:
            pool.close()
        pool.join()
        processes.pool_ended()


def _prepare(records: list[Mapping[str, Any]], options: GroupOptions) -> list[Prepared]:
    return [Prepared.of(record, options) for record in records]
