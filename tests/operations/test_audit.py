"""The audit log: hash chain detects altered and removed lines; the Delta mirror holds the
same entries and a change made to the mirror alone is detected too."""

from __future__ import annotations

from pathlib import Path

from deltalake import DeltaTable

from pipelines.lake.paths import Lake
from pipelines.operations.audit import AuditLog, mirror_to_delta, verify, verify_mirror


def test_delta_mirror_appends_only_new_entries_and_detects_tampering(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    log = AuditLog(lake)
    for i in range(3):
        log.record("tester", "pipeline_run", "ok", target=f"run {i}")
    assert mirror_to_delta(lake) == 3
    log.record("tester", "dsar_export", "ok", target="customer 1")
    assert mirror_to_delta(lake) == 1 and mirror_to_delta(lake) == 0
    assert verify(log.path).problem is None and verify_mirror(lake) is None
    table = DeltaTable(str(lake.audit / "audit_log"))
    assert table.to_pyarrow_table().num_rows == 4
    table.update(updates={"outcome": "'error'"}, predicate="line = 2")
    assert "line 2" in verify_mirror(lake)
    table.update(updates={"outcome": "'ok'"}, predicate="line = 2")
    assert verify_mirror(lake) is None
    table.delete("line = 3")
    assert "missing" in verify_mirror(lake)
