"""A fault-injected live crawl, measured: what each fault became, and what was lost.

    .venv/bin/python -m bench.faults

Crawls the four outlets in live mode through the local server (tests/fixture_server.py) twice
in one run: once well-behaved, once with every fault of tests/faults.py injected. Prints, as
markdown for docs/live.md, one row per fault (the log line it produced at INFO or above, and
whether it was survived: a permanent fault gave exactly one line naming the page and nothing in
the feed; a transient one on a seed article left the article exported), then the totals:
faults injected, survived, articles lost (articles of the clean crawl missing or different in
the faulty one), and the two crawls' time and peak memory side by side.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from tests.faults import CASES, Case, FaultCrawl, run

_LINE = re.compile(r"\] (?:INFO|WARNING|ERROR|CRITICAL): (.*)$")


def lines_naming(crawl: FaultCrawl, url: str) -> list[str]:
    pattern = re.compile(re.escape(url) + r"(?![\w/?#%-])")
    found = []
    for line in crawl.result.log.splitlines():
        match = _LINE.search(line)
        if match and pattern.search(line):
            found.append(match.group(1))
    return found


def outcome(case: Case, crawl: FaultCrawl) -> tuple[str, bool]:
    """(what happened, survived)."""
    exported = {a["url"] for a in crawl.result.articles}
    lines = lines_naming(crawl, case.url)
    if case.expect == "exported":
        hits = crawl.hits.get(case.url, 0)
        failed = [line for line in lines if line.startswith("Failed")]
        plural = "s" if hits != 1 else ""
        return f"exported after {hits} request{plural}", case.url in exported and not failed
    if case.expect == "fetched once":
        hits = crawl.hits.get(
            "https://news-aggregator.example/2024/10/24/north-korean-troops-dispatch-was-secret-"
            "clause-of-moscow-pyongyang-pact-wsj-reports/",
            0,
        )
        return f"the article fetched {hits} time(s)", hits == 1
    counted = crawl.result.stats.get(f"news/{case.expect}", 0) > 0
    text = lines[0] if len(lines) == 1 else f"{len(lines)} lines"
    text = text.replace(case.url, "…")
    if len(text) > 80:
        text = text[:79] + "…"
    return f"`{case.expect}`: {text}", len(lines) == 1 and counted and case.url not in exported


def comparable(crawl: FaultCrawl) -> dict[str, dict[str, object]]:
    return {
        a["url"]: {k: v for k, v in a.items() if k != "fetched_at"} for a in crawl.result.articles
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clean = run(Path(tmp) / "clean", faults=False)
        faulty = run(Path(tmp) / "faulty")
    print("| fault injected | on | what the crawl made of it | survived |")
    print("|---|---|---|---|")
    survived = 0
    for case in CASES:
        what, ok = outcome(case, faulty)
        survived += ok
        page = case.url.split("://", 1)[1]
        page = page if len(page) <= 48 else page[:47] + "…"
        print(f"| {case.name} | {page} | {what} | {'yes' if ok else '**no**'} |")
    want, got = comparable(clean), comparable(faulty)
    lost = sum(1 for url, article in want.items() if got.get(url) != article)
    print()
    print("| | clean crawl | fault-injected crawl |")
    print("|---|---|---|")
    print(f"| faults injected | 0 | {len(CASES)} |")
    print(f"| faults survived | – | {survived} |")
    print(f"| articles exported | {len(want)} | {len(got)} |")
    print(f"| articles lost | – | {lost} |")
    for label, key, scale, unit in (
        ("requests", "downloader/request_count", 1, ""),
        ("retries", "retry/count", 1, ""),
        ("crawl time", "elapsed_time_seconds", 1, " s"),
        ("peak memory (RSS)", "memusage/max", 1 / 2**20, " MiB"),
    ):
        a = clean.result.stats.get(key, 0) * scale
        b = faulty.result.stats.get(key, 0) * scale
        fmt = ".1f" if isinstance(a, float) or isinstance(b, float) else "d"
        print(f"| {label} | {a:{fmt}}{unit} | {b:{fmt}}{unit} |")


if __name__ == "__main__":
    main()
