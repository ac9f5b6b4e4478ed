"""Extraction speed and quality: the project's extraction against bare trafilatura, same pages.

    .venv/bin/python -m bench.extraction [--pages FOLDER] [--rounds N] [--workers 1 2 4]
                                         [--command] [--repeat 3]

Pages: by default the seed article pages from fixtures/ plus the generic test pages; with
`--pages FOLDER`, every .html and .html.gz file under it, e.g. the 258 real pages of
`../shared/devsets/fundus-pages`. Measured in one run, so the ratios hold on a noisy shared
machine even when the absolute numbers do not; each row is the median of `--repeat` runs, the
methods taking turns:

- bare:      trafilatura.extract(html, url) with its defaults, one process (the loop a user
             would write instead of this project)
- extractor: pipelines.extract.core.Extractor (metadata, chrome rules, article checks), in
             this process: CPU per page against bare
- bounded:   BoundedExtractor, as the crawl and `scrapy extract` run it, with 1, 2, 4 worker
             processes: pages per second against the bare loop
- command:   (with --command) the whole `scrapy extract FOLDER --workers N` process, start-up
             included, on `--rounds` copies of the folder: pages per second and CPU per page
             (its own and its workers') against the bare loop

Quality, when FOLDER has a `gold.jsonl` (fundus-pages' layout: `file`, `url`, `body`): the text
each method extracts against the gold body, as precision, recall and F1 of word 4-shingles per
page, averaged over the pages (a page a method gives no text for scores 0), so a speed-up that
costs quality shows in the same table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura

from crawler import outlets
from crawler.encoding import decode_html
from crawler.offline import Manifest
from pipelines.extract.bounded import BoundedExtractor, Limits
from pipelines.extract.core import Extractor

ROOT = Path(__file__).resolve().parent.parent
SCRAPY = [sys.executable, "-m", "scrapy"]
Page = tuple[str, str | None, str | None]  # html, url, outlet


def pages() -> list[Page]:
    """(html, url, outlet) for each fixture page: the seed article pages and the generic ones."""
    manifest = Manifest.load(ROOT / "fixtures" / "manifest.json")
    out = []
    for page in manifest.pages:
        if page.origin.startswith("seed:"):
            outlet = outlets.for_url(page.url)
            default = outlet.default_encoding if outlet else None
            html, _, _ = decode_html(
                page.path.read_bytes(), page.headers.get("Content-Type"), default
            )
            out.append((html, page.url, outlet.name if outlet else None))
    for path in sorted((ROOT / "tests" / "data" / "generic").glob("*.html")):
        out.append((path.read_text("utf-8"), f"https://{path.stem}.example/story", None))
    return out


def folder_pages(folder: Path) -> tuple[list[Page], list[str | None]]:
    """(html, url, None) for every .html(.gz) file under `folder`, and each page's gold body
    (None without one)."""
    gold: dict[str, dict[str, Any]] = {}
    if (folder / "gold.jsonl").is_file():
        for line in (folder / "gold.jsonl").read_text("utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                gold[entry["file"]] = entry
    found, bodies = [], []
    for path in sorted([*folder.rglob("*.html"), *folder.rglob("*.html.gz")]):
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        html, _, _ = decode_html(data, None, None)
        entry = gold.get(path.relative_to(folder).as_posix(), {})
        found.append((html, entry.get("url"), None))
        bodies.append(entry.get("body"))
    return found, bodies


# -- quality ----------------------------------------------------------------------------------


def shingles(text: str, k: int = 4) -> set[tuple[str, ...]]:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return {tuple(words[i : i + k]) for i in range(max(len(words) - k + 1, 1))} if words else set()


def quality(texts: list[str | None], golds: list[str | None]) -> tuple[float, float, float, int]:
    """Mean precision, recall and F1 of word 4-shingles over the pages with a gold body."""
    scores = []
    for text, gold in zip(texts, golds, strict=True):
        if not gold:
            continue
        want, got = shingles(gold), shingles(text or "")
        shared = len(want & got)
        p = shared / len(got) if got else 0.0
        r = shared / len(want) if want else 0.0
        scores.append((p, r, 2 * p * r / (p + r) if p + r else 0.0))
    if not scores:
        return (0.0, 0.0, 0.0, 0)
    return (*(statistics.fmean(s[i] for s in scores) for i in range(3)), len(scores))  # type: ignore[return-value]


# -- speed ------------------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bounded_run(corpus: list[Page], rounds: int, workers: int) -> float:
    """Wall seconds for BoundedExtractor with `workers` processes (started before timing)."""
    with BoundedExtractor(limits=Limits(workers=workers)) as runner:
        for h, u, o in corpus[:workers]:
            runner.extract_sync(h, u, o)

        def run() -> None:
            futures = [runner.submit(h, u, o) for _ in range(rounds) for h, u, o in corpus]
            for future in futures:
                runner.outcome(future)

        return timed(run)[0]


def command_run(folder: Path, workers: int, rounds: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of it and its children) of `scrapy extract` on FOLDER, or on
    `rounds` copies of it (copied before the timing)."""
    with tempfile.TemporaryDirectory() as tmp:
        pages = folder
        if rounds > 1:
            pages = Path(tmp, "pages")
            for i in range(rounds):
                shutil.copytree(folder, pages / f"copy{i}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            [*SCRAPY, "extract", str(pages), "-o", f"{tmp}/out.jsonl", "--workers", str(workers)],
            cwd=ROOT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            capture_output=True,
            check=False,
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pages", type=Path, help="a folder of .html/.html.gz pages")
    parser.add_argument("--rounds", type=int, default=None, help="default: 20, 1 with --pages")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--command", action="store_true", help="time `scrapy extract` too")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (median)")
    args = parser.parse_args()
    if args.pages:
        corpus, golds = folder_pages(args.pages)
    else:
        corpus, golds = pages(), []
    rounds = args.rounds or (1 if args.pages else 20)
    n = len(corpus) * rounds
    where = args.pages or "fixtures/ (seed pages and generic pages)"
    print(
        f"{len(corpus)} pages from {where} x {rounds} rounds = {n} extractions;"
        f" medians of {args.repeat} runs\n"
    )
    extractor = Extractor()
    for h, u, o in corpus[:5]:  # warm-up: imports, caches
        trafilatura.extract(h, url=u)
        extractor.extract(h, u, o)

    bare_texts: list[str | None] = []
    ours_texts: list[str | None] = []

    def bare() -> None:
        for _ in range(rounds):
            bare_texts[:] = [trafilatura.extract(h, url=u) for h, u, _ in corpus]

    def ours() -> None:
        for _ in range(rounds):
            outcomes = [extractor.extract(h, u, o) for h, u, o in corpus]
            ours_texts[:] = [x.article["text"] if x.article else None for x in outcomes]

    runs: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeat):  # the methods take turns, so a busy spell hits all of them
        runs.setdefault("bare", []).append(timed(bare))
        runs.setdefault("ours", []).append(timed(ours))
        for workers in args.workers:
            runs.setdefault(f"bounded{workers}", []).append(
                (bounded_run(corpus, rounds, workers), 0.0)
            )
        if args.command and args.pages:
            for workers in args.workers:
                runs.setdefault(f"command{workers}", []).append(
                    command_run(args.pages, workers, rounds)
                )

    def median(key: str) -> tuple[float, float]:
        return (
            statistics.median(w for w, _ in runs[key]),
            statistics.median(c for _, c in runs[key]),
        )

    bare_wall, bare_cpu = median("bare")
    ours_wall, ours_cpu = median("ours")
    rows = [
        ("bare trafilatura, one process", n / bare_wall, 1.0, bare_cpu / n, 1.0),
        (
            "Extractor, one process",
            n / ours_wall,
            bare_wall / ours_wall,
            ours_cpu / n,
            ours_cpu / bare_cpu,
        ),
    ]
    for workers in args.workers:
        wall = median(f"bounded{workers}")[0]
        rows.append(
            (f"BoundedExtractor, {workers} worker(s)", n / wall, bare_wall / wall, None, None)
        )
    if args.command and args.pages:
        for workers in args.workers:
            wall, cpu = median(f"command{workers}")
            label = f"`scrapy extract`, {workers} worker(s)"
            rows.append((label, n / wall, bare_wall / wall, cpu / n, cpu / bare_cpu))
    print("| what | pages/s | x bare | CPU ms/page | CPU x bare |")
    print("|---|---:|---:|---:|---:|")
    for label, rate, speed, cpu_page, cpu_ratio in rows:
        cpu_text = "" if cpu_page is None else f"{cpu_page * 1000:.1f}"
        ratio_text = "" if cpu_ratio is None else f"{cpu_ratio:.2f}"
        print(f"| {label} | {rate:.1f} | {speed:.2f} | {cpu_text} | {ratio_text} |")
    if any(golds):
        print("\nQuality against the gold bodies (word 4-shingles, mean per page):")
        print("| method | precision | recall | F1 | pages |")
        print("|---|---:|---:|---:|---:|")
        for label, texts in (("bare trafilatura", bare_texts), ("Extractor", ours_texts)):
            p, r, f, k = quality(texts, golds)
            print(f"| {label} | {p:.3f} | {r:.3f} | {f:.3f} | {k} |")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this process: {peak_mb:.0f} MB; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
