"""Extraction speed: the project's extraction against bare trafilatura on the same pages.

    .venv/bin/python -m bench.extraction [--rounds N]

Pages: the seed article pages from fixtures/ plus the generic test pages. Measured in one run,
so the ratios hold on a noisy shared machine even when the absolute numbers do not:

- bare:      trafilatura.extract(html) with its defaults, in this process
- extractor: pipelines.extract.core.Extractor (metadata, chrome rules), in this process
- bounded:   BoundedExtractor, as the crawl and `scrapy extract` run it (worker processes)
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import trafilatura

from crawler import outlets
from crawler.encoding import decode_html
from crawler.offline import Manifest
from pipelines.extract.bounded import BoundedExtractor, Limits
from pipelines.extract.core import Extractor

ROOT = Path(__file__).resolve().parent.parent


def pages() -> list[tuple[str, str | None, str | None]]:
    """(html, url, outlet) for each page."""
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


def timed(label: str, n: int, fn) -> float:
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    print(f"  {label:<10} {n / seconds:8.1f} pages/s   {seconds * 1000 / n:7.2f} ms/page")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    corpus = pages()
    work = corpus * args.rounds
    n = len(work)
    extractor = Extractor()
    print(f"{len(corpus)} pages x {args.rounds} rounds = {n} extractions")
    for html, url, _ in corpus:  # warm-up: imports, caches
        trafilatura.extract(html, url=url)
    bare = timed("bare", n, lambda: [trafilatura.extract(h, url=u) for h, u, _ in work])
    ours = timed("extractor", n, lambda: [extractor.extract(h, u, o) for h, u, o in work])
    with BoundedExtractor(limits=Limits(workers=2)) as runner:
        runner.extract_sync(*corpus[0])  # start the workers outside the timing

        def bounded_run() -> None:
            futures = [runner.submit(h, u, o) for h, u, o in work]
            for future in futures:
                runner.outcome(future)

        bounded = timed("bounded", n, bounded_run)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"extractor / bare = {ours / bare:.2f}  (time per page, one process)")
    print(f"bounded / bare   = {bounded / bare:.2f}  (2 worker processes on this machine)")
    print(f"peak RSS of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
