"""Data contracts: every landed column is declared with a category; a column no contract
declares (a new copybook field) is not landed and is reported by the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from pipelines.contracts import CATEGORIES, ContractError, contracts, enforce, undeclared_seen
from tests.conftest import ROOT, ledgerbridge


def test_enforce_drops_and_reports_undeclared_columns() -> None:
    batch = pa.table({"oi_doc_no": ["1"], "oi_amount": [1], "oi_secret": ["x"]})
    landed = enforce("legacy", "open_items", batch)
    assert landed.column_names == ["oi_doc_no", "oi_amount"]
    assert "oi_secret" in undeclared_seen()["legacy.open_items"]
    with pytest.raises(ContractError, match=r"no data contract for legacy\.nowhere"):
        enforce("legacy", "nowhere", batch)


def test_every_contract_column_has_a_category_and_tables_a_basis() -> None:
    for contract in contracts().values():
        assert set(contract.columns.values()) <= set(CATEGORIES)
        assert contract.purpose and contract.legal_basis and contract.retention


def test_every_landed_column_is_declared(e2e_lake: dict) -> None:
    bronze = e2e_lake["lake"] / "bronze"
    declared = {(c.source, c.table): set(c.columns) for c in contracts().values()}
    checked = 0
    for log in sorted(bronze.rglob("_delta_log")):
        source, table = log.parent.parent.name, log.parent.name
        if table.startswith("_dlt") or table == "init":
            continue  # dlt's own bookkeeping
        columns = set(DeltaTable(str(log.parent)).schema().to_arrow().names)
        assert columns <= declared[(source, table)], (source, table)
        checked += 1
    assert checked >= 12


def test_a_new_copybook_field_is_not_landed_until_declared(e2e_lake: dict, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake)
    copybook = lake / "landing/legacy/copybooks/ARCUST.cpy"
    text = copybook.read_text()
    # the extract job now fills ten bytes of the filler with a new field
    old = "           05  FILLER              PIC X(30).\n"
    assert text.count(old) == 1
    copybook.write_text(
        text.replace(
            old,
            "           05  CM-BIRTH-DATE       PIC X(10).\n"
            "           05  FILLER              PIC X(20).\n",
        )
    )
    delivered = sorted((lake / "landing/legacy/customers").glob("*.dat"))[-1]
    shutil.copy(delivered, delivered.with_name("ARCUST_D20991231.dat"))
    out = ledgerbridge(lake, "run")
    text = out.stdout + out.stderr
    assert "legacy.customers: cm_birth_date" in text and "no data contract" in text
    columns = DeltaTable(str(lake / "bronze/legacy/customers")).schema().to_arrow().names
    assert "cm_birth_date" not in columns and "cm_email" in columns


def test_declared_exemptions_from_lineage_masking_are_justified() -> None:
    """A model column may leave the lineage's personal set only with a reason: `extracts`
    naming a field some contract classifies as not personal, or a `because` sentence."""
    import yaml

    root = ROOT / "models"
    not_personal = {
        column
        for contract in contracts().values()
        for column, category in contract.columns.items()
        if category != "personal"
    }
    exemptions = 0
    for spec in sorted(root.rglob("*.yml")):
        for model in yaml.safe_load(spec.read_text()).get("models", []):
            for column in model.get("columns", []):
                meta = column.get("meta") or {}
                if "extracts" in meta:
                    assert meta["extracts"] in not_personal, (model["name"], column["name"])
                    assert meta.get("category") in ("financial", "operational")
                    exemptions += 1
                if "because" in meta:
                    assert len(str(meta["because"]).split()) >= 4, (model["name"], column)
                    exemptions += 1
    assert exemptions >= 2
