"""A crawl's fixed cost: `scrapy crawl all` offline on the fixtures, first run and again.

    .venv/bin/python -m bench.startup [--runs 3] [--tree DIR ...]

Each run starts from an empty state and output folder (a temporary directory), crawls, then
crawls again over the same state: the second run finds nothing new, as a scheduled run mostly
does. Reported per tree: wall time of each crawl and when the log said "Spider opened" (the
start-up: imports, settings, the reactor, the extraction workers started). With several
`--tree` (e.g. a `git worktree` of an older commit and this one) the trees take turns, so the
ratios hold on a noisy machine; each tree runs with its own code (`PYTHONPATH`) and this
virtualenv's packages.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRAPY = Path(sys.executable).with_name("scrapy")
_OPENED = re.compile(r"^(\d+) .*Spider opened", re.M)


def crawl(tree: Path, state: Path) -> tuple[float, float | None]:
    """Wall seconds of one `scrapy crawl all` in `tree`, and seconds until "Spider opened"."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    proc = subprocess.run(
        [
            str(SCRAPY),
            "crawl",
            "all",
            "-s",
            "LOG_FORMAT=%(relativeCreated)d %(message)s",
            "-s",
            "LOG_LEVEL=INFO",
            "-s",
            f"NEWS_STATE_DIR={state / 'state'}",
            "-s",
            f"NEWS_OUTPUT_DIR={state / 'out'}",
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed in {tree}:\n{proc.stderr[-2000:]}")
    opened = _OPENED.search(proc.stderr)
    return wall, int(opened.group(1)) / 1000 if opened else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", action="append", type=Path, help="a checkout (repeat)")
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    results: dict[tuple[Path, str], list[tuple[float, float | None]]] = {}
    for _ in range(args.runs):
        for tree in trees:
            with tempfile.TemporaryDirectory() as tmp:
                for kind in ("first", "again"):
                    results.setdefault((tree, kind), []).append(crawl(tree, Path(tmp)))
    print("| tree | run | wall s (median, range) | spider opened s (median) | start-up share |")
    print("|---|---|---:|---:|---:|")
    for (tree, kind), rows in results.items():
        walls = [w for w, _ in rows]
        opened = [o for _, o in rows if o is not None]
        wall = statistics.median(walls)
        up = statistics.median(opened) if opened else float("nan")
        print(
            f"| {tree.name} | {kind} | {wall:.2f} ({min(walls):.2f}-{max(walls):.2f}) |"
            f" {up:.2f} | {up / wall:.0%} |"
        )


if __name__ == "__main__":
    main()
