"""`watch` takes a journal change set in as it lands, keeps other writers out while it
runs, and stops cleanly on SIGTERM (the step in progress finished, exit 0, audited)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.embedded.demo.change_set import write_change_set
from pipelines.lake.lock import BUSY_EXIT_CODE
from pipelines.lake.paths import Lake
from tests.conftest import ROOT, ledgerbridge

TOTALS = "select sum(credit_limit_eur), sum(open_amount_eur) from marts.customer_financial_status"


def _audit(lake: Path) -> list[dict]:
    path = lake / "audit" / "audit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _runs_after(lake: Path, n: int, timeout: float) -> list[dict]:
    """Wait until the lake's audit log holds more than `n` pipeline runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [e for e in _audit(lake) if e["action"] == "pipeline_run"]
        if len(runs) > n:
            return runs
        time.sleep(0.5)
    raise AssertionError(f"no pipeline run after {n} within {timeout} s")


def test_watch_takes_a_change_set_in_and_stops_cleanly(e2e_lake: dict, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    before = ledgerbridge(lake, "sql", "--role", "finance", "--format", "csv", TOTALS).stdout
    runs = len([e for e in _audit(lake) if e["action"] == "pipeline_run"])
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(lake)}
    cmd = [sys.executable, "-m", "pipelines.cli", "watch", "--poll", "0.3", "--settle", "0.5"]
    log = (tmp_path / "watch.err").open("w")  # a file: a full pipe would block the watcher
    watcher = subprocess.Popen(
        [*cmd, "--crm-interval", "3600"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        _runs_after(lake, runs, timeout=120)  # the first look: nothing new
        busy = ledgerbridge(lake, "run", check=False)
        assert busy.returncode == BUSY_EXIT_CODE
        assert "is being written by `watch`" in busy.stderr
        changed = write_change_set(Lake.from_url(str(lake)), fraction=0.05, seed=3)
        assert changed["customers"] > 0
        done = _runs_after(lake, runs + 1, timeout=180)
        assert done[-1]["outcome"] == "ok"
        after = ledgerbridge(lake, "sql", "--role", "finance", "--format", "csv", TOTALS).stdout
        assert after != before  # the marts show the journal changes
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=120)
        log.close()
        said = (tmp_path / "watch.err").read_text()
    assert code == 0, said[-3000:]
    assert "Traceback" not in said
    ended = [e for e in _audit(lake) if e["action"] == "watch"]
    assert ended and ended[-1]["outcome"] == "ok" and ended[-1]["details"]["cycles"] >= 1
    assert ledgerbridge(lake, "run").returncode == 0  # the lake is free again
