"""What a run's exit code and audit entry say: 0 everything taken in, 3 completed with input
refused or held (listed), 1 failed (one line; the traceback in the run's log file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ledgerbridge


def _audit(lake: Path) -> list[dict]:
    lines = (lake / "audit" / "audit.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines]


def test_a_run_that_refused_a_file_exits_3_and_lists_it(e2e_lake: dict, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    folder = lake / "landing" / "legacy" / "customers"
    extract = sorted(folder.glob("*.dat"))[-1]
    cut = folder / extract.name.replace("2026", "2027", 1)  # a later delivery, cut short
    cut.write_bytes(extract.read_bytes()[:-150])
    run = ledgerbridge(lake, "run", check=False)
    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Input refused or held (1), exit code 3" in run.stdout
    assert f"legacy file customers/{cut.name}: refused — " in run.stdout
    entry = [e for e in _audit(lake) if e["action"] == "pipeline_run"][-1]
    assert entry["outcome"] == "partial"
    assert any(cut.name in line for line in entry["details"]["held"])
    again = ledgerbridge(lake, "run")  # refused once, recorded: the next run is clean
    assert again.returncode == 0


def test_a_failing_command_is_one_line_audited_with_the_traceback_in_its_log(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "empty"
    build = ledgerbridge(lake, "build", check=False)
    assert build.returncode == 1
    assert "Traceback" not in build.stderr
    error = [line for line in build.stderr.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and error[0].startswith("Error: build failed: nothing has landed")
    assert "`ledgerbridge run`" in error[0]  # what to run
    assert not (lake / "warehouse.duckdb").exists()
    entry = _audit(lake)[-1]
    assert (entry["action"], entry["outcome"]) == ("build", "error")
    assert entry["details"]["reason"] in error[0]
    logged = [
        json.loads(x) for f in (lake / "logs").glob("*.jsonl") for x in f.read_text().splitlines()
    ]
    assert any(e["event"] == "command_traceback" and e["command"] == "build" for e in logged)


def test_an_unreachable_crm_is_one_line_and_the_legacy_side_goes_on(
    e2e_lake: dict, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    env = os.environ | {
        "LEDGERBRIDGE_LAKE": str(lake),
        "LEDGERBRIDGE_CRM_BASE_URL": "http://127.0.0.1:9",  # nothing listens there
        "LEDGERBRIDGE_CRM_TOKEN": "unused",
        "RUNTIME__REQUEST_MAX_ATTEMPTS": "1",
        "COLUMNS": "200",
    }
    run = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 3, run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert "CRM at http://127.0.0.1:9 could not be reached (connection refused)" in run.stdout
    assert "ledgerbridge run summary" in run.stdout  # the rest of the run went on
