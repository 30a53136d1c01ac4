"""Shared fixtures: small demo lakes built once per session through the real commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Timing is not what these properties test: the first call may include compiling the numba
# kernel, and the machine is shared and noisy.
settings.register_profile("ledgerbridge", deadline=None)
# the pseudonym key comes from configuration; tests must not create a key file in $HOME
PSEUDONYM_KEY = "test-pseudonym-key-not-for-production"
os.environ.setdefault("LEDGERBRIDGE_PSEUDONYM_KEY", PSEUDONYM_KEY)
settings.load_profile("ledgerbridge")

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = Path(
    os.environ.get("LEDGERBRIDGE_CONFORMANCE", ROOT.parent / "shared" / "conformance" / "cobrix")
)


def ledgerbridge(lake: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process, as a person would."""
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(lake), "COLUMNS": "160"}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"ledgerbridge {' '.join(args)} exited {proc.returncode}:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def e2e_lake(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A lake after `ledgerbridge demo` + `ledgerbridge run`, with the generator's truth."""
    lake = tmp_path_factory.mktemp("e2e") / "lake"
    ledgerbridge(lake, "demo", "--customers", "600", "--seed", "7")
    first = ledgerbridge(lake, "run")
    truth = json.loads((lake / "demo" / "truth.json").read_text())
    return {"lake": lake, "truth": truth, "first_run": first}
