"""`scrapy extract` on saved pages: good files, bad files and hostile files in one run."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import MANIFEST, ROOT, SCRAPY, run_scrapy
from tests.seeds import SEEDS

SCHEMA = json.loads((ROOT / "crawler" / "schemas" / "article.schema.json").read_text("utf-8"))
BODY = "<p>" + "Plain words of a paragraph that could be an article body. " * 12 + "</p>"


def write_inputs(folder: Path) -> dict[str, str]:
    """Seed pages as "Save page as" files, plus bad and hostile ones; name -> expected reason."""
    saved = folder / "saved"
    (saved / "nested").mkdir(parents=True)
    expected = {}
    for n, seed in enumerate(sorted(SEEDS)):
        source = MANIFEST.get(SEEDS[seed]["url"]).path
        if n % 2:
            (saved / "nested" / f"seed{seed}.html.gz").write_bytes(
                gzip.compress(source.read_bytes())
            )
            expected[f"seed{seed}.html.gz"] = "article"
        else:
            shutil.copy(source, saved / f"seed{seed}.html")
            expected[f"seed{seed}.html"] = "article"
    bad = {
        "empty.html": (b"", "empty"),
        "binary.html": (bytes(range(256)) * 64, "not_html"),
        "report.html": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", "not_html"),
        "listing.html": (
            b'<html><head><meta property="og:type" content="website"></head><body>'
            + BODY.encode()
            + b"</body></html>",
            "not_article",
        ),
        # declared UTF-8, but full of invalid bytes: decoded with replacement characters
        "broken-encoding.html": (
            b"<html><head><meta charset='utf-8'></head><body><article>"
            + BODY.encode()
            + b"\xff\xfe\xc3\x28" * 500
            + b"</article></body></html>",
            "article",
        ),
        # nesting far past libxml2's depth limit
        "deep.html": (
            ("<html><body>" + "<div>" * 60_000 + BODY + "</div>" * 60_000).encode(),
            "no_text",
        ),
        "huge.html": (b"<html><body>" + BODY.encode() * 3000 + b"</body></html>", "too_large"),
        # 64 MB of spaces in 64 KB of gzip
        "bomb.html.gz": (gzip.compress(b" " * (64 << 20), compresslevel=9), "too_large"),
        "corrupt.html.gz": (gzip.compress(BODY.encode() * 50)[:200], "unreadable"),
    }
    for name, (data, reason) in bad.items():
        (saved / name).write_bytes(data)
        expected[name] = reason
    (saved / "notes.txt").write_text("not an .html file: ignored")
    return expected


def test_extract_good_bad_and_hostile_files(tmp_path: Path) -> None:
    expected = write_inputs(tmp_path)
    out = tmp_path / "out" / "articles.jsonl"
    proc = run_scrapy(
        "extract",
        str(tmp_path / "saved"),
        str(tmp_path / "missing.html"),
        "-o",
        str(out),
        "--max-bytes",
        "1500000",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    by_source = {Path(a["source"]).name: a for a in lines}
    assert set(by_source) == {n for n, r in expected.items() if r == "article"}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for article in lines:
        assert list(validator.iter_errors(article)) == []
    seeds_by_url = {s["url"]: s for s in SEEDS.values()}
    for name, article in by_source.items():
        if name.startswith("seed"):
            assert article["title"] == seeds_by_url[article["url"]]["title"]
            assert article["outlet"] == seeds_by_url[article["url"]]["outlet"]
    assert by_source["broken-encoding.html"]["url"].startswith("file://")
    assert "Головна" not in by_source["seed004.html"]["text"]  # navigation is not the article
    for name, reason in expected.items():
        if reason != "article":
            lines = [line for line in proc.stderr.splitlines() if f"{name}: {reason}" in line]
            assert len(lines) == 1, (name, reason, proc.stderr[-2000:])
    assert "missing.html: unreadable" in proc.stderr
    assert "notes.txt" not in proc.stderr
    assert "articles written        6" in proc.stderr


def test_a_page_that_keeps_the_parser_busy_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    flood = "<html><body><div " + " ".join(f"a{i}='x'" for i in range(200_000)) + ">"
    (tmp_path / "flood.html").write_text(flood + BODY + "</div></body></html>")
    shutil.copy(MANIFEST.get(SEEDS["002"]["url"]).path, tmp_path / "good.html")
    started = time.monotonic()
    proc = run_scrapy("extract", str(tmp_path), "-o", str(tmp_path / "out.jsonl"), "--timeout", "2")
    assert time.monotonic() - started < 60  # unbounded, this page takes minutes
    assert "flood.html: timeout (extraction took longer than 2 s; stopped)" in proc.stderr
    assert len((tmp_path / "out.jsonl").read_text("utf-8").splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "required: -o/--output"), (["-o", "x.jsonl"], "give at least one file or folder")],
)
def test_usage_errors(args: list[str], message: str) -> None:
    proc = run_scrapy("extract", *args)
    assert proc.returncode == 2
    assert "scrapy extract PATH [PATH ...] -o FILE.jsonl" in proc.stderr + proc.stdout
    assert message in proc.stderr + proc.stdout


def _refused(proc, *words: str) -> None:
    """Exit 2 with one 'refused' line naming the problem, and no traceback."""
    lines = [line for line in proc.stderr.splitlines() if "refused" in line]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and all(w in lines[0] for w in words), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_an_output_that_is_an_input_or_a_folder_is_refused_before_anything_is_opened(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.html"
    shutil.copy(MANIFEST.get(SEEDS["002"]["url"]).path, page)
    before = page.read_bytes()
    _refused(run_scrapy("extract", str(page), "-o", str(page)), "is the input")
    (tmp_path / "alias.html").symlink_to(page)  # another name, the same file
    _refused(run_scrapy("extract", str(page), "-o", str(tmp_path / "alias.html")), "is the input")
    (tmp_path / "hard.html").hardlink_to(page)
    _refused(run_scrapy("extract", str(page), "-o", str(tmp_path / "hard.html")), "is the input")
    _refused(run_scrapy("extract", str(page), "-o", str(tmp_path)), "is a directory")
    # inside a folder being read, an .html output would be read back as an input
    _refused(run_scrapy("extract", str(tmp_path), "-o", str(tmp_path / "x.html")), "input folder")
    assert page.read_bytes() == before
    assert not (tmp_path / "x.html").exists()


def test_devices_and_pipes_are_refused_and_a_stray_nul_is_not_binary(tmp_path: Path) -> None:
    import os

    page = MANIFEST.get(SEEDS["002"]["url"]).path.read_bytes()
    cut = page.index(b"<p>") + 20
    (tmp_path / "nul.html").write_bytes(page[:cut] + b"\x00" + page[cut:])  # one stray NUL
    os.mkfifo(tmp_path / "pipe.html")  # opening it would wait for a writer forever
    started = time.monotonic()
    proc = run_scrapy(
        "extract", "/dev/zero", str(tmp_path), "-o", str(tmp_path / "out.jsonl"), timeout=120
    )
    assert time.monotonic() - started < 100
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Skipped /dev/zero: not_a_file (a character device, not a regular file)" in proc.stderr
    assert "pipe.html: not_a_file (a named pipe, not a regular file)" in proc.stderr
    (article,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert article["source"].endswith("nul.html") and article["word_count"] > 300


def test_file_names_cannot_forge_log_lines(tmp_path: Path) -> None:
    evil = tmp_path / "page\n2026-01-01 00:00:00 [forged] INFO: all good.html"
    evil.write_bytes(b"")  # empty: skipped, and named
    odd = tmp_path / os.fsdecode(b"bytes-\xff-page.html")
    odd.write_bytes(b"")
    shutil.copy(MANIFEST.get(SEEDS["002"]["url"]).path, tmp_path / os.fsdecode(b"good-\xfe.html"))
    proc = run_scrapy("extract", str(tmp_path), "-o", str(tmp_path / "out.jsonl"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    (article,) = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert article["source"].endswith("good-\\udcfe.html")  # escaped, valid UTF-8
    assert not any(
        line.startswith("2026-01-01 00:00:00 [forged]") for line in proc.stderr.splitlines()
    )
    assert "page\\n2026-01-01" in proc.stderr and "bytes-\\udcff-page.html: empty" in proc.stderr


# -- processes: none outlives the command ---------------------------------------------------------


def _session(sid: int) -> list[str]:
    """The processes of session `sid` (zombies too): "pid state command" each."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        name_end = text.rindex(")")
        fields = text[name_end + 2 :].split()
        if int(fields[3]) == sid:  # state, ppid, pgrp, session
            found.append(f"{stat.parent.name} {fields[0]} {text[text.index('(') + 1 : name_end]}")
    return found


def _start(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    return subprocess.Popen(
        [*SCRAPY, *args],
        cwd=ROOT,
        env={**env, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own session: every process it starts is counted
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )


def _ctrl_c_as_at_a_terminal() -> None:
    """Ctrl-C handled by default in the command, as in a terminal, even where the tests run
    with SIGINT ignored (a job started in the background by a non-interactive shell, or by
    nohup: an ignored signal stays ignored across exec, and Python then installs no
    KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_no_process_outlives_extract_or_crawl(tmp_path: Path) -> None:
    """The workers, the forkserver and the resource tracker are ended and reaped before the
    command exits: nothing of its session is left, not even a zombie."""
    folder = tmp_path / "in"
    write_inputs(folder)
    for args in (
        ["extract", str(folder), "-o", str(tmp_path / "x.jsonl")],
        [
            "crawl",
            "all",
            "-s",
            f"NEWS_OUTPUT_DIR={tmp_path}/out",
            "-s",
            f"NEWS_STATE_DIR={tmp_path}/s",
        ],
    ):
        proc = _start(*args)
        _, err = proc.communicate(timeout=180)
        left = _session(proc.pid)
        assert proc.returncode == 0, err[-2000:]
        assert left == [], f"scrapy {args[0]} left {left}"


def test_ctrl_c_stops_extract_at_once_keeping_what_it_wrote(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while the workers
    extract: the command stops within seconds with exit 130 and a summary that says so; every
    line written is whole; no process is left. (The workers ignore SIGINT: before, each one
    turned it into a lost page and the command went on.)"""
    folder = tmp_path / "in"
    pages = [p for p in MANIFEST.pages if p.status == 200 and p.path.suffix == ".html"]
    folder.mkdir()
    for n in range(300):
        shutil.copy(pages[n % len(pages)].path, folder / f"{n:03d}.html")
    out = tmp_path / "x.jsonl"
    proc = _start("extract", str(folder), "-o", str(out))
    deadline = time.monotonic() + 60
    while len(_session(proc.pid)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)  # the command, the resource tracker, the forkserver, two workers
    assert len(_session(proc.pid)) >= 5
    os.killpg(proc.pid, signal.SIGINT)
    stopped = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - stopped < 10
    assert proc.returncode == 130, err[-2000:]
    assert "INTERRUPTED (Ctrl-C)" in err and "Traceback" not in err
    lines = out.read_text("utf-8").splitlines()
    assert len(lines) < 300  # it did stop
    assert all(json.loads(line)["text"] for line in lines)
    assert "KeyboardInterrupt" not in err  # no page was lost to it as an "error"
    assert _session(proc.pid) == []


def test_ctrl_c_stops_a_crawl_gracefully_with_130_and_leaves_no_process(tmp_path: Path) -> None:
    """Ctrl-C to a crawl's process group while its extraction workers run: Scrapy's graceful
    stop, exit 130 (a scheduler must not read an interrupted run as done), the state left
    usable (the next run finishes the work) and nothing of its session left behind."""
    settings = ["-s", f"NEWS_OUTPUT_DIR={tmp_path}/out", "-s", f"NEWS_STATE_DIR={tmp_path}/s"]
    proc = _start("crawl", "all", *settings)
    deadline = time.monotonic() + 60
    while len(_session(proc.pid)) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "(shutdown)" in err and "Traceback" not in err
    assert _session(proc.pid) == []
    after = _start("crawl", "all", *settings)
    _, err = after.communicate(timeout=180)
    assert after.returncode == 0, err[-2000:]
    snapshot = (tmp_path / "out" / "articles.jsonl").read_text("utf-8").splitlines()
    assert len(snapshot) == 7, err[-3000:]  # the whole feed, as an uninterrupted run gives
