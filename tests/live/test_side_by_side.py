"""Readers beside a writer: while a build rewrites the warehouse, finance SQL and the API
read the published copy — they neither fail on the writer's file lock nor see a build
half-done — and after the build the copy is the new warehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.conftest import ROOT, ledgerbridge

COUNT = "select count(*) from marts.customers"


def test_finance_sql_answers_while_a_build_writes(e2e_lake: dict, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    assert (lake / "published.duckdb").exists()  # run published it
    expected = ledgerbridge(lake, "sql", "--role", "finance", "--format", "csv", COUNT).stdout
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(lake)}
    build = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "build"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answered = 0
    try:
        deadline = time.monotonic() + 120
        while build.poll() is None and time.monotonic() < deadline:
            try:
                dbt_running = any(
                    "dbt" in " ".join(p.cmdline())
                    for p in psutil.Process(build.pid).children(recursive=True)
                )
            except psutil.Error:  # the build (or a child) ended between two looks
                continue
            if not dbt_running:
                time.sleep(0.1)
                continue
            during = ledgerbridge(
                lake, "sql", "--role", "finance", "--format", "csv", COUNT, check=False
            )
            assert (during.returncode, during.stdout) == (0, expected), during.stderr[-2000:]
            answered += 1
    finally:
        assert build.wait(timeout=300) == 0
    assert answered >= 1  # at least one query ran while dbt held the warehouse
    after = ledgerbridge(lake, "sql", "--role", "finance", "--format", "csv", COUNT)
    assert after.stdout == expected
