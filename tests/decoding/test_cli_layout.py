"""`ledgerbridge layout` prints offsets and types; bad copybooks fail with the file named."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pipelines.cli import cli
from pipelines.embedded.demo.legacy_files import COPYBOOK_DIR as DEMO


def test_layout_lists_fields_with_offsets_and_types() -> None:
    result = CliRunner().invoke(cli, ["layout", str(DEMO / "AROPEN.cpy")], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "AROPEN-RECORD (120 bytes)" in result.output
    line = next(x for x in result.output.splitlines() if "OI-AMOUNT " in x)
    assert "33" in line and "7" in line and "S9(11)V99 COMP-3" in line


def test_layout_error_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "BAD.cpy"
    bad.write_text("       01  REC.\n           05  A PIC Q(3).\n")
    result = CliRunner().invoke(cli, ["layout", str(bad)])
    assert result.exit_code != 0
    assert "BAD.cpy" in result.output and "line 2" in result.output
