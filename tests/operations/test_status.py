"""`status` says where each source stands, for a person and for a machine, and names
what waits: a landing file not taken yet, a refused journal receiver."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ledgerbridge


def test_status_reports_positions_and_what_waits(e2e_lake: dict, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    report = json.loads(ledgerbridge(lake, "status", "--format", "json").stdout)
    sources = report["sources"]
    assert report["last_run"]["outcome"] == "ok"
    assert sources["legacy"]["waiting"] == 0 and sources["legacy"]["position"]
    assert all(isinstance(j["position"], int) for j in sources["journals"])
    assert set(sources["crm"]["position"]) == {"companies", "contacts", "deals"}
    # a new extract not taken yet, and a journal receiver that will be refused
    folder = lake / "landing" / "legacy" / "customers"
    extract = sorted(folder.glob("*.dat"))[-1]
    (folder / extract.name.replace("2026", "2027", 1)).write_bytes(extract.read_bytes())
    receivers = lake / "landing" / "legacy" / "journals" / "customers"
    (receivers / "JRNCUST_R000099.dat").write_bytes(b"")
    ledgerbridge(lake, "extract", "journals")
    waiting = json.loads(ledgerbridge(lake, "status", "--format", "json").stdout)["sources"]
    assert waiting["legacy"]["waiting"] == 1
    customers = next(j for j in waiting["journals"] if j["journal"] == "customers")
    assert customers["refused_receivers"] == ["JRNCUST_R000099.dat"]
    table = ledgerbridge(lake, "status")
    assert "journal customers" in table.stdout + table.stderr
    assert "1 refused" in table.stdout + table.stderr
