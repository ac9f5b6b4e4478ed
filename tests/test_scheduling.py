"""The two ways users schedule crawls: cron (bin/scheduled-crawl) and scrapyd.

The scrapyd test starts a real scrapyd on 127.0.0.1, deploys the project as scrapyd-deploy
builds it, schedules the main job through scrapyd's HTTP API and checks its feed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from crawler.state import StateStore
from tests.conftest import ROOT, read_jsonl
from tests.seeds import SEEDS

BIN = Path(sys.executable).parent


def scheduled(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    env["NEWS_LOG_DIR"] = str(tmp_path / "logs")
    return subprocess.run(
        [
            str(ROOT / "bin" / "scheduled-crawl"),
            "all",
            "-s",
            f"NEWS_STATE_DIR={tmp_path / 'state'}",
            "-s",
            f"NEWS_OUTPUT_DIR={tmp_path / 'out'}",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_cron_wrapper_logs_each_run_and_passes_the_exit_code(tmp_path: Path) -> None:
    first, second = scheduled(tmp_path), scheduled(tmp_path)
    assert (first.returncode, second.returncode) == (0, 0)
    holder = StateStore(tmp_path / "state")
    holder.acquire()
    try:
        locked = scheduled(tmp_path)
    finally:
        holder.close()
    assert locked.returncode == 75
    runs = (tmp_path / "logs" / "runs.log").read_text().splitlines()
    assert [line.split(" exit ")[1].split(" ")[0] for line in runs] == ["0", "0", "75"]
    assert "skipped: another run holds the state" in runs[2]
    logs = sorted((tmp_path / "logs").glob("crawl-*-all.log"))
    assert len(logs) == 3
    assert "Run summary" in logs[0].read_text()  # the summary goes to the run's log
    stats = [json.loads(p.read_text()) for p in sorted((tmp_path / "logs").glob("*.stats.json"))]
    assert [s["news/delta/articles"] for s in stats[:2]] == [7, 0]
    assert len(read_jsonl(tmp_path / "out" / "articles.jsonl")) == 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def scrapyd(tmp_path: Path) -> Iterator[str]:
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = _free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\n"
        f"bind_address = 127.0.0.1\nhttp_port = {port}\n"
        "eggs_dir = eggs\nlogs_dir = logs\nitems_dir =\ndbs_dir = dbs\n"
        "max_proc = 1\npoll_interval = 0.5\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    output = (home / "out.txt").open("w")
    server = subprocess.Popen(
        [str(BIN / "scrapyd")], cwd=home, env=env, stdout=output, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/daemonstatus.json", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail(f"scrapyd did not start: {(home / 'out.txt').read_text()[-2000:]}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)
        output.close()


def test_scrapyd_runs_the_deployed_project(scrapyd: str, tmp_path: Path) -> None:
    egg = tmp_path / "project.egg"
    build = subprocess.run(
        [str(BIN / "scrapyd-deploy"), "--build-egg", str(egg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    with egg.open("rb") as f:
        added = requests.post(
            f"{scrapyd}/addversion.json",
            data={"project": "syndication_crawler", "version": "1"},
            files={"egg": f},
            timeout=60,
        ).json()
    assert added["status"] == "ok", added
    assert added["spiders"] == 5, added  # one per outlet, and all
    out = tmp_path / "feed"
    job = requests.post(
        f"{scrapyd}/schedule.json",
        data={
            "project": "syndication_crawler",
            "spider": "all",
            "setting": [
                # the egg has no fixtures: point offline mode at the repository's
                f"NEWS_FIXTURES_MANIFEST={ROOT / 'fixtures' / 'manifest.json'}",
                f"NEWS_OUTPUT_DIR={out}",
                f"NEWS_STATE_DIR={tmp_path / 'state'}",
            ],
        },
        timeout=30,
    ).json()
    assert job["status"] == "ok", job
    for _ in range(300):
        jobs = requests.get(
            f"{scrapyd}/listjobs.json", params={"project": "syndication_crawler"}, timeout=10
        ).json()
        if any(j["id"] == job["jobid"] for j in jobs["finished"]):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the scrapyd job did not finish: {jobs}")
    articles = read_jsonl(out / "articles.jsonl")
    assert {s["url"] for s in SEEDS.values()} <= {a["url"] for a in articles}
    assert len(articles) == 7
    assert len(read_jsonl(out / "clusters.jsonl")) == 3
