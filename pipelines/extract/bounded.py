"""Extraction with hard bounds on size, time and memory per page.

A hostile page can keep libxml2 busy for minutes inside one C call (an element with 300,000
attributes does), where no Python-level timeout can interrupt it. So pages are extracted in worker
processes (pebble's ProcessPool): a page that runs past `timeout` has its worker killed and
replaced, a worker has an address-space limit, and pages over `max_chars` are refused before any
parsing. Each bound that is hit becomes an `Outcome` with a reason, never an exception.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from concurrent.futures import Future, TimeoutError
from dataclasses import dataclass
from functools import lru_cache

from pebble import ProcessExpired, ProcessPool

from pipelines import processes
from pipelines.extract.core import ExtractOptions, Extractor, Outcome


@dataclass(frozen=True)
class Limits:
    max_chars: int = 5_000_000  # characters of decoded HTML
    timeout: float = 20.0  # seconds of extraction per page
    memory_mb: int = 1536  # address space per worker process
    workers: int = 2

    def __post_init__(self) -> None:
        if self.max_chars <= 0 or self.timeout <= 0 or self.memory_mb <= 0 or self.workers <= 0:
            raise ValueError(f"extraction limits must be positive: {self}")


class BoundedExtractor:
    """Runs `Extractor.extract` in worker processes, within `Limits`."""

    def __init__(self, options: ExtractOptions | None = None, limits: Limits | None = None):
        self.options = options or ExtractOptions()
        self.limits = limits or Limits()
        # forkserver, not fork: the crawl process runs threads (reactor, DNS pool, pebble's own)
        # and forking a threaded process can deadlock the child.
        processes.pool_started()
        self._ended = False
        self._pool = ProcessPool(
            max_workers=self.limits.workers,
            initializer=_limit_memory,
            initargs=(self.limits.memory_mb,),
            context=multiprocessing.get_context("forkserver"),
        )

    def submit(
        self, html: str, url: str | None, outlet: str | None, fetched_at: str | None = None
    ) -> Future[Outcome]:
        if len(html) > self.limits.max_chars:
            done: Future[Outcome] = Future()
            done.set_result(
                Outcome.skip(
                    "too_large",
                    f"{len(html):,} characters of HTML, over the limit of "
                    f"{self.limits.max_chars:,}",
                )
            )
            return done
        try:
            return self._pool.schedule(
                _extract,
                args=(self.options, html, url, outlet, fetched_at),
                timeout=self.limits.timeout,
            )
        except RuntimeError as error:  # the pool is broken or closed (a stop under way)
            failed: Future[Outcome] = Future()
            failed.set_result(
                Outcome.skip("worker_died", f"the extraction pool is not running ({error})")
            )
            return failed

    def outcome(self, future: Future[Outcome]) -> Outcome:
        """The future's outcome, with bounds that were hit turned into reasons (blocks)."""
        try:
            return future.result()
        except Exception as error:  # every failure becomes a reason (Ctrl-C is no failure)
            return self._failure(error)

    async def extract(
        self, html: str, url: str | None, outlet: str | None, fetched_at: str | None = None
    ) -> Outcome:
        future = self.submit(html, url, outlet, fetched_at)
        try:
            return await asyncio.wrap_future(future)
        except Exception as error:
            return self._failure(error)

    def extract_sync(
        self, html: str, url: str | None, outlet: str | None, fetched_at: str | None = None
    ) -> Outcome:
        return self.outcome(self.submit(html, url, outlet, fetched_at))

    def _failure(self, error: BaseException) -> Outcome:
        if isinstance(error, TimeoutError):
            return Outcome.skip(
                "timeout", f"extraction took longer than {self.limits.timeout:g} s; stopped"
            )
        if isinstance(error, MemoryError):
            return Outcome.skip(
                "memory", f"extraction needed more than {self.limits.memory_mb} MB; stopped"
            )
        if isinstance(error, ProcessExpired):
            return Outcome.skip(
                "worker_died", f"the extraction process died (exit code {error.exitcode})"
            )
        return Outcome.skip("error", f"extraction failed: {type(error).__name__}: {error}")

    def close(self) -> None:
        """Finish the pages under way, then end every process extraction started -- the
        workers, the forkserver and multiprocessing's resource tracker -- and wait for them, so
        none outlives the command (a scheduler that watches the process group sees none)."""
        self._end(at_once=False)

    def stop(self) -> None:
        """End at once (Ctrl-C): pages under way are abandoned, every process is ended."""
        self._end(at_once=True)

    def _end(self, at_once: bool) -> None:
        if self._ended:
            return
        if not at_once:
            self._pool.close()
            try:
                self._pool.join(timeout=self.limits.timeout + 5)
            except TimeoutError:
                at_once = True
        if at_once:
            self._pool.stop()
            self._pool.join()
        self._ended = True
        processes.pool_ended()

    def __enter__(self) -> BoundedExtractor:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            self.stop()
        else:
            self.close()


def _limit_memory(memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


@lru_cache(maxsize=4)
def _extractor(options: ExtractOptions) -> Extractor:
    return Extractor(options)


def _extract(
    options: ExtractOptions, html: str, url: str | None, outlet: str | None, fetched_at: str | None
) -> Outcome:
    return _extractor(options).extract(html, url=url, outlet=outlet, fetched_at=fetched_at)
