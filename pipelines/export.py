"""Writing output files whole or not at all: the crawl's snapshot and per-run deltas.

`atomic_writer` writes to a temporary file in the target's folder and moves it over the target
when complete, so a reader never sees a half-written file, a crash leaves the previous file in
place, and a command may overwrite its own input. `SnapshotWriter` writes the crawl's
`articles.jsonl`, `clusters.jsonl` and `grouping.json` that way, and each run's delta as a
folder `runs/<run id>/` that appears complete or not at all. (Scrapy's FEEDS write items as they
come; an article's grouping fields are only known when the whole run has been grouped.)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from crawler.state import feed_fields


class UnsafeOutput(ValueError):
    """An output path that would destroy an input, or that cannot be a file."""


def check_outputs(
    outputs: Mapping[str, str | Path],
    inputs: Iterable[str | Path] = (),
    *,
    may_replace: Iterable[str] = (),
    input_suffixes: tuple[str, ...] = (),
) -> None:
    """Refuse, before anything is opened, output paths that are directories, that are one of
    the `inputs` (the same file, by device and inode, whatever the path says), that would be
    read as an input (inside an input folder, with an input's suffix), or that two options
    share. `outputs` maps an option (`-o`) to its path; the options in `may_replace` may name
    an input file, because they are written atomically after the input was read."""
    seen: dict[str, str] = {}
    input_files = [Path(p) for p in inputs]
    for option, name in outputs.items():
        path = Path(name)
        if path.is_dir():
            raise UnsafeOutput(f"{option} {shown_path(path)} is a directory; give a file name")
        resolved = str(path.resolve())
        if resolved in seen:
            raise UnsafeOutput(
                f"{seen[resolved]} and {option} name the same file {shown_path(path)};"
                " one would overwrite the other"
            )
        seen[resolved] = option
        for source in input_files:
            if source.is_dir():
                if path.name.lower().endswith(input_suffixes) and path.resolve().is_relative_to(
                    source.resolve()
                ):
                    raise UnsafeOutput(
                        f"{option} {shown_path(path)} is inside the input folder"
                        f" {shown_path(source)} and would be read as an input; write it elsewhere"
                    )
            elif option not in may_replace and _same_file(path, source):
                raise UnsafeOutput(
                    f"{option} {shown_path(path)} is the input {shown_path(source)}; writing it"
                    " would destroy the input before it is read"
                )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def printable(path: str | Path) -> str:
    """A path for a log line as it is, unless it holds a line break, a control character or
    bytes that are not UTF-8: then escaped, so a file name cannot break or forge a line."""
    text = os.fsdecode(path)
    return text if text.isprintable() else ascii(text)[1:-1]


def shown_path(path: Path) -> str:
    """A path for a log line: quoted and escaped, so a name with a newline or control
    characters cannot break or forge a line."""
    return repr(os.fsdecode(path))


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[str]]:
    with staged_files() as stage:
        yield stage.open(path)


class _Stage:
    """Files written to temporary names beside their targets, moved into place together."""

    def __init__(self) -> None:
        self.files: list[tuple[IO[str], Path, Path]] = []  # (file, temporary, target)

    def open(self, path: str | Path) -> IO[str]:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        # mkstemp makes 0600: a file replaced keeps its mode, a new one follows the umask
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~umask()
        os.fchmod(fd, mode)
        f = os.fdopen(fd, "w", encoding="utf-8")
        self.files.append((f, Path(tmp), path))
        return f

    def commit(self) -> None:
        for f, _, _ in self.files:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        for _, tmp, target in self.files:
            tmp.replace(target)

    def discard(self) -> None:
        for f, tmp, _ in self.files:
            f.close()
            tmp.unlink(missing_ok=True)


@contextmanager
def staged_files() -> Iterator[_Stage]:
    """Write several files whole or not at all: each `stage.open(path)` writes to a temporary
    file in the target's folder; when the block ends they are synced and moved over their
    targets one after the other, so a failure while writing any of them (disk full) leaves
    every target as it was."""
    stage = _Stage()
    try:
        yield stage
        stage.commit()
    except BaseException:
        stage.discard()
        raise


def umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    with atomic_writer(path) as f:
        _write_rows(f, rows)
    return Path(path)


def _write_rows(f: IO[str], rows: Iterable[Mapping[str, Any]]) -> None:
    f.writelines(json.dumps(dict(row), ensure_ascii=False) + "\n" for row in rows)


class SnapshotWriter:
    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)

    def write(
        self,
        articles: Iterable[Mapping[str, Any]],
        clusters: Iterable[Mapping[str, Any]],
        about: Mapping[str, Any],
    ) -> list[Path]:
        paths = [self.out_dir / n for n in ("articles.jsonl", "clusters.jsonl", "grouping.json")]
        with staged_files() as stage:
            _write_rows(stage.open(paths[0]), (feed_fields(a) for a in articles))
            _write_rows(stage.open(paths[1]), clusters)
            stage.open(paths[2]).write(json.dumps(about, indent=2) + "\n")
        return paths

    def write_delta(
        self,
        run_id: str,
        articles: Iterable[Mapping[str, Any]],
        clusters: Iterable[Mapping[str, Any]],
    ) -> Path:
        """`runs/<run_id>/articles.jsonl` and `clusters.jsonl`: what the run added or changed.
        Written again whole if the folder exists (a run that died before recording it)."""
        runs = self.out_dir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        target = runs / run_id
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=runs))
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes 0700
        try:
            write_jsonl(tmp / "articles.jsonl", (feed_fields(a) for a in articles))
            write_jsonl(tmp / "clusters.jsonl", clusters)
            if target.exists():
                shutil.rmtree(target)
            tmp.replace(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target
