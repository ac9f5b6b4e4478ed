"""Incremental runs: what a second run costs, next to the first.

    .venv/bin/python -m bench.incremental [--repeat 3]

Live crawls (offline mode off) of the fixture sites served by the loopback proxy
(tests/fixture_server.py), with a fresh state each time:

- first run: empty state;
- second run, unchanged: the same sites again;
- second run, changed: after the sites changed (fixtures/changes/: one article added, one
  updated; seed 003's page gone).

For each: requests the crawler made (robots.txt included), pages fetched whole (200), articles
new or changed (the run's delta), articles in the feed, and the crawl's own elapsed time
(Scrapy's `elapsed_time_seconds`; process start-up excluded), the median of `--repeat` runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from tests.conftest import MANIFEST, crawl
from tests.fixture_server import LIVE_SETTINGS, FixtureProxy
from tests.test_incremental import change


def run(server: FixtureProxy, out: Path) -> dict[str, float]:
    env = server.env()
    result = crawl("all", out, *LIVE_SETTINGS, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.log[-2000:])
    stats = result.stats
    return {
        "requests": stats.get("downloader/request_count", 0),
        "fetched whole": stats.get("downloader/response_status_count/200", 0),
        "delta": stats.get("news/delta/articles", 0),
        "feed": stats.get("news/grouping/articles", 0),
        "seconds": stats.get("elapsed_time_seconds", 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {
        "first run": [],
        "second run, unchanged": [],
        "second run, changed": [],
    }
    for _ in range(args.repeat):
        for changed in (False, True):
            with FixtureProxy(MANIFEST) as server, tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp)
                first = run(server, out)
                if changed:
                    change(server)
                    rows["second run, changed"].append(run(server, out))
                else:
                    rows["first run"].append(first)
                    rows["second run, unchanged"].append(run(server, out))
    print(
        "| run | requests | fetched whole (200) | articles new or changed | articles in the feed"
        " | time (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, results in rows.items():
        med = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(
            f"| {name} | {med['requests']:.0f} | {med['fetched whole']:.0f} | {med['delta']:.0f}"
            f" | {med['feed']:.0f} | {med['seconds']:.2f} |"
        )


if __name__ == "__main__":
    main()
