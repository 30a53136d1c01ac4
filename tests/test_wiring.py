"""The house is wired: every module imports, every command answers --help, dbt parses the
project, the shared options work on either side of a command, and every command on an
empty lake says in one line what is missing and what to run — never a traceback."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pipelines
from pipelines.cli import cli
from tests.conftest import ROOT, ledgerbridge


def _commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        out.append(path)
        if isinstance(command, click.Group):
            out += _commands(command, path)
    return out


def test_every_module_imports() -> None:
    skipped = {"pipelines.cli.__main__"}  # runs the command line when imported
    for info in pkgutil.walk_packages(pipelines.__path__, "pipelines."):
        if info.name not in skipped:
            importlib.import_module(info.name)


@pytest.mark.parametrize("words", _commands(), ids=" ".join)
def test_every_command_answers_help(words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    group = cli
    for word in words[:-1]:
        group = group.commands[word]
    if not isinstance(group.commands[words[-1]], click.Group):  # options sit on commands
        assert "--lake" in result.output


def test_every_summary_is_a_whole_sentence() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    assert "Art. 17" in result.output  # click's own summary stops at "Art."


def test_dbt_parses_the_project(tmp_path: Path) -> None:
    import os

    from pipelines.lake.paths import Lake
    from pipelines.models.build import DBT_PROJECT, dbt_env

    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "parse",
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
        ],
        cwd=ROOT,
        env=os.environ | dbt_env(Lake(tmp_path / "lake")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_lake_option_works_after_the_command_too(tmp_path: Path) -> None:
    lake = tmp_path / "after"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "build", "--lake", str(lake)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert f"nothing has landed in {lake.as_uri()}" in proc.stderr
    assert (lake / "audit" / "audit.jsonl").exists()  # the failure is audited in that lake


EMPTY_LAKE = [
    ("build",),
    ("publish",),
    ("extract",),
    ("extract", "journals"),
    ("sync-crm",),
    ("sync-crm", "--dry-run"),
    ("cdc", "status"),
    ("cdc", "compact"),
    ("cdc", "drift", "customers"),
    ("cdc", "ack-gap", "customers", "--from", "1", "--to", "2"),
    ("cdc", "rebaseline", "customers", "--extract-date", "2026-10-30", "--sequence", "1"),
    ("dsar", "--customer", "10000001"),
    ("forget", "--customer", "10000001"),
    ("retention", "--dry-run"),
    ("sql", "select 1"),
    ("serve",),
    ("status",),
]


def test_every_command_on_an_empty_lake_says_what_to_run(tmp_path: Path) -> None:
    lake = tmp_path / "empty"
    for words in EMPTY_LAKE:
        proc = ledgerbridge(lake, *words, check=False)
        name = " ".join(words)
        assert proc.returncode != 0, f"{name} did nothing and exited 0"
        assert "Traceback" not in proc.stderr, f"{name}: {proc.stderr[-2000:]}"
        errors = [x for x in proc.stderr.splitlines() if x.startswith("Error: ")]
        assert len(errors) == 1, f"{name}: {proc.stderr[-2000:]}"
        assert "`ledgerbridge " in errors[0], f"{name} does not say what to run: {errors[0]}"
    assert not (lake / "warehouse.duckdb").exists()
    assert not any((lake / d).exists() for d in ("bronze", "gold", "landing"))
    entries = [json.loads(x) for x in (lake / "audit" / "audit.jsonl").read_text().splitlines()]
    assert len([e for e in entries if e["outcome"] in ("error", "failed")]) == len(EMPTY_LAKE)
    assert ledgerbridge(lake, "audit", "verify").returncode == 0


def test_cdc_status_reads_as_a_table_or_json(e2e_lake: dict) -> None:
    table = ledgerbridge(e2e_lake["lake"], "cdc", "status")
    text = table.stdout + table.stderr
    assert "applied through" in text and "{" not in text
    data = json.loads(ledgerbridge(e2e_lake["lake"], "cdc", "status", "--format", "json").stdout)
    assert {j["journal"] for j in data} == {"customers", "open_items"}
    assert all(isinstance(j["applied_through"], int) for j in data)


def test_sql_never_cuts_a_number() -> None:
    from decimal import Decimal

    from rich.console import Console

    from pipelines.cli.serving import result_table

    cols = ["customer_name", "credit_limit_eur", "open_amount_eur", "note"]
    rows = [("Müller Anlagenbau GmbH & Co. KG " * 3, Decimal("100000.00"), 123456789.5, "x" * 90)]
    console = Console(width=60, record=True, color_system=None)
    console.print(result_table(cols, rows))
    text = console.export_text()
    assert "100000.00" in text and "123456789.5" in text
    assert "…" not in text


def test_a_foreign_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    (folder / "photos").mkdir(parents=True)
    (folder / "notes.txt").write_text("not a lake")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    for words in (("run",), ("demo",), ("extract",), ("build",)):
        proc = ledgerbridge(folder, *words, check=False)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "is not a ledgerbridge lake (it holds notes.txt, photos)" in proc.stderr
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


def test_a_half_built_lake_says_what_to_run(tmp_path: Path) -> None:
    lake = tmp_path / "half"
    ledgerbridge(lake, "demo", "--customers", "100", "--seed", "5")
    ledgerbridge(lake, "extract", "legacy")  # landed, never built
    for words in (("publish",), ("sync-crm",), ("sql", "select 1"), ("serve",)):
        proc = ledgerbridge(lake, *words, check=False)
        errors = [x for x in proc.stderr.splitlines() if x.startswith("Error: ")]
        assert proc.returncode == 1 and len(errors) == 1, proc.stderr[-1500:]
        assert "`ledgerbridge run`" in errors[0] or "`ledgerbridge build`" in errors[0]
