"""Labelled sets for grouping: which articles are versions of one report.

Two layouts are read:

- a JSONL file, one article per line with a `group` (or `label`) field naming its report, the
  feed fields (`text`, `title`, `published`, `url`, `language`) and optionally `relation`,
  `role` and `negative_of`: `eval/articles.jsonl`;
- a folder with `labels.jsonl` in the layout of `../shared/devsets/syndication-dev` (labels
  only, each page's text kept elsewhere as `<id>.txt`: line 1 its URL, then the text), e.g. the
  dev set with its texts in `eval/texts/syndication-dev/` (git-ignored: third-party text is
  never committed).

`python -m eval.datasets save SET < results.json` stores page texts for a labels folder from
{url: text} JSON (the stored page collection's answers, see `missing_help`).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVAL_DIR = Path(__file__).resolve().parent
EVAL_SET = EVAL_DIR / "articles.jsonl"
TEXTS = EVAL_DIR / "texts"
_STORE_DATE = re.compile(r"^\s*date \d{4}-\d{2}(?:-\d{2})?\s*")


@dataclass
class Labelled:
    key: str
    record: dict[str, Any]  # what a feed line would hold
    group: str  # the report; a negative is a group of its own
    relation: str | None = None  # original, verbatim, rewrite, translation; or a negative's kind
    role: str = "member"  # member or negative
    negative_of: str | None = None  # the report a negative is a hard negative for
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        return str(self.record.get("language") or "en")

    @property
    def topic(self) -> str:
        """The report this article belongs to or is a negative of: folds split by topic."""
        return self.negative_of or self.group


@dataclass
class LabelledSet:
    name: str
    items: list[Labelled]
    missing: list[str]  # labelled pages whose text is absent
    help: str = ""


def load_set(path: str | Path, texts: str | Path | None = None) -> LabelledSet:
    path = Path(path)
    if path.is_dir():
        return _load_labels_folder(path, Path(texts) if texts else TEXTS / path.name)
    return LabelledSet(path.stem, _load_jsonl(path), [])


def _load_jsonl(path: Path) -> list[Labelled]:
    items = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        key = str(row.get("id") or row.get("url") or number)
        group = row.get("group") or row.get("label")
        if group is None:
            raise ValueError(f"{path}:{number}: no `group` (or `label`) field")
        items.append(
            Labelled(
                key=key,
                record=row,
                group=str(group),
                relation=row.get("relation") or row.get("kind"),
                role=row.get("role") or "member",
                negative_of=row.get("negative_of"),
            )
        )
    return items


def _load_labels_folder(folder: Path, texts: Path) -> LabelledSet:
    labels = [
        json.loads(line)
        for line in (folder / "labels.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    items, missing = [], []
    for label in labels:
        page = texts / f"{label['id']}.txt"
        if not page.is_file():
            missing.append(label["id"])
            continue
        url, _, text = page.read_text("utf-8").partition("\n")
        record = {
            "url": url.strip() or label["url"],
            "title": label.get("title"),
            "published": label.get("published"),
            "language": label.get("language"),
            # the store's " date ..." line is not page text (`published` has it when it counts)
            "text": _STORE_DATE.sub("", text),
        }
        items.append(
            Labelled(
                key=label["id"],
                record=record,
                group=label["cluster"] or label["id"],
                relation=label.get("relation"),
                role=label.get("role", "member"),
                negative_of=label.get("negative_of"),
            )
        )
    return LabelledSet(folder.name, items, missing, missing_help(folder, texts, missing))


def missing_help(folder: Path, texts: Path, missing: list[str]) -> str:
    if not missing:
        return ""
    return (
        f"{len(missing)} of the pages labelled in {folder} have no text in {texts}/ (first:"
        f" {', '.join(missing[:3])}). The texts are third-party pages and are not in the"
        " repository: for each line of labels.jsonl, run its `query` against the stored page"
        " collection (the `search` tool, corpus `pages`), keep the result whose address is"
        f" `url`, and save it as {texts}/<id>.txt (line 1 the URL, then the text) -- or give"
        " {url: text} JSON to `python -m eval.datasets save`. Evaluating the pages present."
    )


def save(folder: Path, results: dict[str, str], texts: Path | None = None) -> list[str]:
    """Store {url: text} answers as the labelled pages' texts; returns the ids saved."""
    texts = texts or TEXTS / folder.name
    texts.mkdir(parents=True, exist_ok=True)
    saved = []
    for line in (folder / "labels.jsonl").read_text("utf-8").splitlines():
        if not line.strip():
            continue
        label = json.loads(line)
        text = results.get(label["url"])
        target = texts / f"{label['id']}.txt"
        if text is not None and not target.exists():
            target.write_text(f"{label['url']}\n{text}", encoding="utf-8")
            saved.append(label["id"])
    return saved


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "save":
        print("usage: python -m eval.datasets save LABELS_FOLDER < {url: text}.json")
        return 2
    folder = Path(argv[2])
    saved = save(folder, json.load(sys.stdin))
    print(f"saved {len(saved)} page texts; {len(load_set(folder).missing)} still missing")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
