"""Golden files for extraction: tests/expected/<seed>.json, one per seed page.

Each holds the article fields the extractor must produce (all but `fetched_at`), with the text as
a list of paragraphs so that a person can read it. After a deliberate change, regenerate with
`.venv/bin/python -m tests.expected_pages`, then read the diff (`git diff tests/expected`) before
committing: a golden file nobody read tests nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crawler import outlets
from crawler.encoding import decode_html
from pipelines.extract.core import Extractor
from tests.conftest import MANIFEST
from tests.seeds import SEEDS

EXPECTED_DIR = Path(__file__).parent / "expected"


def extract_seed(seed: str) -> dict[str, Any]:
    url = SEEDS[seed]["url"]
    saved = MANIFEST.get(url)
    assert saved is not None
    outlet = outlets.for_url(url)
    html, _, _ = decode_html(
        saved.path.read_bytes(),
        saved.headers.get("Content-Type"),
        outlet.default_encoding if outlet else None,
    )
    outcome = Extractor().extract(html, url=url, outlet=outlet.name if outlet else None)
    assert outcome.article is not None, f"seed {seed}: {outcome.reason} {outcome.detail}"
    return outcome.article


def as_golden(article: dict[str, Any]) -> dict[str, Any]:
    golden = {k: v for k, v in article.items() if k not in {"fetched_at", "text"}}
    golden["paragraphs"] = article["text"].split("\n\n")
    return golden


def main() -> None:
    EXPECTED_DIR.mkdir(exist_ok=True)
    for seed in SEEDS:
        path = EXPECTED_DIR / f"{seed}.json"
        text = json.dumps(as_golden(extract_seed(seed)), ensure_ascii=False, indent=2) + "\n"
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}; read it before committing")


if __name__ == "__main__":
    main()
