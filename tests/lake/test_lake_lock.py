"""One writer per lake: a second writer is refused naming the holder (or waits), a killed
holder's lock is taken over, and dbt dies with the run that started it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.lake.lock import BUSY_EXIT_CODE, LakeBusy, holder, lake_lock
from tests.conftest import ROOT, ledgerbridge

HOLD = """
import sys, time
from pathlib import Path
from pipelines.lake.lock import lake_lock
with lake_lock(Path(sys.argv[1]), "test holder"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(root: Path, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(root), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_holder_frees_it(
    tmp_path: Path,
) -> None:
    child = _hold(tmp_path, 60)
    try:
        with (
            pytest.raises(LakeBusy, match=rf"`test holder` \(pid {child.pid} on "),
            lake_lock(tmp_path, "second"),
        ):
            pass
        assert holder(tmp_path)["pid"] == child.pid
    finally:
        child.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel drops the lock
        child.wait()
    with lake_lock(tmp_path, "after the kill"):
        assert holder(tmp_path)["command"] == "after the kill"


def test_a_writer_that_waits_gets_the_lake_when_the_holder_ends(tmp_path: Path) -> None:
    child = _hold(tmp_path, 1.0)
    started = time.monotonic()
    with lake_lock(tmp_path, "patient", wait_s=30):
        assert time.monotonic() - started > 0.5
    child.wait()


def _dbt_children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "dbt" in line]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_two_runs_at_once_one_is_refused_and_the_lake_equals_a_single_run(
    tmp_path: Path, e2e_lake: dict
) -> None:
    lake = tmp_path / "lake"
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(lake)}
    ledgerbridge(lake, "demo", "--customers", "600", "--seed", "7")
    cmd = [sys.executable, "-m", "pipelines.cli", "run"]
    runs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = [(r.wait(), r.stderr.read().decode()) for r in runs]
    codes = sorted(code for code, _ in outcomes)
    assert codes == [0, BUSY_EXIT_CODE], outcomes
    refused = next(err for code, err in outcomes if code == BUSY_EXIT_CODE)
    assert "is being written by `run` (pid" in refused
    assert "Traceback" not in refused
    audit = [json.loads(x) for x in (lake / "audit" / "audit.jsonl").read_text().splitlines()]
    assert any(e["action"] == "run" and e["outcome"] == "refused" for e in audit)
    # the lake the surviving run wrote is the one a single run writes
    query = (
        "select count(*), sum(open_amount_eur), sum(credit_limit_eur) "
        "from marts.customer_financial_status"
    )
    mine = ledgerbridge(lake, "sql", "--role", "finance", "--format", "csv", query).stdout
    single = ledgerbridge(
        e2e_lake["lake"], "sql", "--role", "finance", "--format", "csv", query
    ).stdout
    assert mine == single


def test_a_run_killed_during_dbt_takes_dbt_with_it_and_the_next_run_proceeds(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(lake)}
    ledgerbridge(lake, "demo", "--customers", "300", "--seed", "3")
    run = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    dbt: list[int] = []
    while time.monotonic() < deadline and run.poll() is None and not dbt:
        dbt = _dbt_children(run.pid)
        time.sleep(0.05)
    assert dbt, "the run ended before dbt started"
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in dbt):
        time.sleep(0.05)
    assert not any(_alive(p) for p in dbt), "dbt outlived the run that started it"
    again = ledgerbridge(lake, "run")
    assert "Took" in again.stdout
