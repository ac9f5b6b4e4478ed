"""Grouping speed and memory.

    .venv/bin/python -m bench.grouping [--sizes 10000 100000] [--workers 1 2] [--no-baseline]

1. Grouping against extraction, on the same pages: the seed article pages (and the copies) in
   fixtures/ are extracted (Extractor, in this process) and grouped as the crawl does (one batch
   when the run ends), both timed per page in the same run.
2. Throughput and memory at each size: a synthetic corpus (generated, not committed; see
   `corpus`) is grouped as the crawl and `scrapy dedup` do: added oldest first. Memory per
   indexed article is the growth of the process's resident memory divided by the number of
   articles. With workers, articles are described in that many processes ahead of the one
   that indexes them (`pipelines.group.parallel`, as `scrapy dedup` does). The time per
   article is shown for each tenth of the corpus: it must not grow as the index fills.
   First, at each size, a plain datasketch near-duplicate script on the same corpus
   (`plain_datasketch`), the speed users compare with.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from datasketch import MinHashLSH

from bench.extraction import pages
from eval.datasets import EVAL_SET, load_set
from eval.evaluate import shingle_minhash
from pipelines.extract.core import Extractor
from pipelines.group.grouper import Grouper, group_batch
from pipelines.group.options import GroupOptions
from pipelines.group.parallel import add_all
from pipelines.group.text import words

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["Meridian News Agency", "Reuters", "Bloomberg", "The Wall Street Journal", None, None]


def corpus(n: int, seed: int = 1) -> Iterator[tuple[str, dict[str, Any]]]:
    """`n` synthetic articles: words follow a Zipf law over the evaluation set's vocabulary (the
    frequent head) and 40,000 invented words (the tail); each report has its own names, a
    number and rare words; one article in four re-reports a recent report (60% of its facts,
    the same cited source, other wording); 1,000 articles a day, as from a large outlet list, so
    a bigger corpus is a longer stretch of time, as a deployment's index grows."""
    rng = random.Random(seed)
    texts = [i.record["text"] for i in load_set(EVAL_SET).items]
    counts = Counter(w for text in texts for w in words(text) if w.isalpha())
    syllables = ["ka", "lo", "mi", "ren", "tov", "sha", "dor", "vel", "pri", "nu", "zed", "gar"]
    invented = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(60_000)}
    vocabulary = [w for w, _ in counts.most_common()] + sorted(invented - set(counts))[:40_000]
    zipf = list(itertools.accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(vocabulary))))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    reports: list[tuple[list[str], str | None]] = []
    for i in range(n):
        if reports and rng.random() < 0.25:  # a re-report of a recent report
            facts, source = rng.choice(reports[-300:])
            facts = [f for f in facts if rng.random() < 0.6]
        else:
            facts = [w.title() for w in rng.sample(vocabulary[5000:], 4)]
            facts += [str(rng.randint(2, 90_000)), *rng.sample(vocabulary[2000:], 10)]
            source = rng.choice(SOURCES)
            reports.append((facts, source))

        def sentence(k: int, facts: list[str] = facts) -> str:
            drawn = rng.choices(vocabulary, cum_weights=zipf, k=k)
            mixed = [rng.choice(facts) if facts and rng.random() < 0.3 else w for w in drawn]
            return " ".join(mixed).capitalize() + "."

        lead = sentence(28) + (f" {source} reported." if source else "")
        body = [lead] + [" ".join(sentence(14) for _ in range(3)) for _ in range(6)]
        yield (
            f"a{i}",
            {
                "url": f"https://outlet{i % 40}.example/news/{i}",
                "outlet": f"outlet{i % 40}",
                "title": sentence(9)[:-1],
                "published": (start + timedelta(days=i / 1000)).isoformat(timespec="seconds"),
                "text": "\n\n".join(body),
            },
        )


def against_extraction(rounds: int) -> None:
    site_pages = [p for p in pages() if not p[1] or ".example/story" not in p[1]]
    extractor = Extractor()
    for html, url, outlet in site_pages:  # warm-up
        extractor.extract(html, url, outlet)
    run: list[dict[str, Any] | None] = []
    started = time.perf_counter()
    for _ in range(rounds):
        run = [extractor.extract(html, url, outlet).article for html, url, outlet in site_pages]
    extraction = (time.perf_counter() - started) / (rounds * len(site_pages))

    # The crawl's way: the run's articles grouped as one batch when the spider closes.
    articles = [(str(i), a) for i, a in enumerate(run) if a is not None]
    group_batch(articles)  # warm-up
    started = time.perf_counter()
    for _ in range(rounds):
        group_batch(articles)
    batch = (time.perf_counter() - started) / (rounds * len(articles))

    print(f"On the {len(site_pages)} seed article pages of fixtures/ x {rounds} rounds:")
    print(f"  extraction                            {extraction * 1000:6.2f} ms/page")
    print(
        f"  grouping as the crawl does (a batch)  {batch * 1000:6.2f} ms/article"
        f" = {batch / extraction:.1%} of extraction"
    )


def _rss_kib() -> int:
    """Resident memory of this process, KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def plain_datasketch(records: list[tuple[str, dict[str, Any]]]) -> float:
    """Seconds a plain near-duplicate script takes on `records`: per article, MinHash of the
    text's 5-word shingles, a MinHashLSH query (Jaccard 0.5), then the insert -- what a
    hand-rolled datasketch dedup does, for scale (it finds copies only: docs/grouping.md)."""
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    for key, record in records:
        sketch = shingle_minhash(record["text"])
        lsh.query(sketch)
        lsh.insert(key, sketch)
    return time.perf_counter() - started


def baseline(n: int) -> float:
    seconds = plain_datasketch(list(corpus(n)))
    print(
        f"\n{n:,} articles, plain datasketch (shingles, MinHashLSH): {n / seconds:,.0f} articles/s"
    )
    return n / seconds


def scale(n: int, workers: int) -> None:
    records = list(corpus(n))
    group_batch([])  # imports and first allocations outside the measurement
    gc.collect()
    rss_before = _rss_kib()
    started = time.perf_counter()
    grouper = Grouper(GroupOptions(forget_outside_window=True))  # as scrapy dedup groups
    marks = [started]
    halfway: list[int] = []

    def timed() -> Iterator[tuple[str, dict[str, Any]]]:
        for i, item in enumerate(records):
            if i and i % (n // 10) == 0:
                marks.append(time.perf_counter())
                if i == n // 2:
                    halfway.append(_rss_kib())
            yield item

    add_all(grouper, timed(), workers, count=n)
    marks.append(time.perf_counter())
    tenths = [(b - a) / (n // 10) for a, b in itertools.pairwise(marks)]
    clusters = len({a.cluster_id for a in grouper.assignments().values()})
    seconds = time.perf_counter() - started
    gc.collect()
    held = _rss_kib() - rss_before
    print(
        f"\n{n:,} articles, {workers} worker(s): {n / seconds:,.0f} articles/s"
        f" ({seconds:.1f} s); {clusters:,} clusters"
    )
    print(f"  memory: {held / n:.1f} KiB per indexed article (growth of resident memory)")
    if halfway:
        late = (_rss_kib() - halfway[0]) / (n - n // 2)
        print(f"  memory: {late:.1f} KiB per article over the second half (beyond the window)")
    print("  ms per article by tenth of the corpus: " + " ".join(f"{t * 1000:.2f}" for t in tenths))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--workers", type=int, nargs="*", default=[1, 2], help="processes describing ahead"
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the plain datasketch script (MinHash of shingles + MinHashLSH)",
    )
    args = parser.parse_args()
    against_extraction(args.rounds)
    for n in args.sizes:
        if args.baseline:
            baseline(n)
        for workers in args.workers:
            scale(n, workers)


if __name__ == "__main__":
    main()
