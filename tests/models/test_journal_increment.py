"""The journal increment: when only journal changes arrived, the marts and gold rebuild the
touched rows only — and end exactly where a full rebuild ends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from pipelines.embedded.demo.change_set import write_change_set
from pipelines.lake.paths import Lake
from pipelines.models.build import BuildPlan, plan_build, record_published
from pipelines.models.warehouse import connect
from tests.conftest import ledgerbridge

GOLD = ("customers", "customer_financial_status", "open_items", "invoices", "ar_aging")


def _versions(lake: Path) -> dict[str, int]:
    return {t: DeltaTable(str(lake / "gold" / t)).version() for t in (*GOLD, "payments")}


def _differences(a: Path, b: Path) -> dict[str, int]:
    """Rows in one lake's marts, analysts' copy and gold but not the other's, per table
    (both directions)."""
    con = connect()
    out: dict[str, int] = {}

    def compare(name: str, left: str, right: str) -> None:
        for x, y in ((left, right), (right, left)):
            out[name] = (
                out.get(name, 0)
                + con.execute(
                    f"select count(*) from (select * from {x} except all select * from {y})"
                ).fetchone()[0]
            )

    try:
        for db, alias in (("warehouse", "w"), ("analyst", "n")):
            con.execute(f"attach '{a / f'{db}.duckdb'}' as {alias}a (read_only)")
            con.execute(f"attach '{b / f'{db}.duckdb'}' as {alias}b (read_only)")
        analyst = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'na'"
        ).fetchall()
        assert len(analyst) > 20
        marts = con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'wa' and table_schema = 'marts'"
        ).fetchall()
        for (t,) in marts:
            compare(f"marts.{t}", f"wa.marts.{t}", f"wb.marts.{t}")
        for schema, t in analyst:
            compare(f"analyst.{schema}.{t}", f"na.{schema}.{t}", f"nb.{schema}.{t}")
        for t in GOLD:
            compare(
                f"gold.{t}", f"delta_scan('{a / 'gold' / t}')", f"delta_scan('{b / 'gold' / t}')"
            )
    finally:
        con.close()
    return out


@pytest.fixture(scope="module")
def incremented(e2e_lake: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the end-to-end lake, a 1 % change set applied with `ledgerbridge run`."""
    lake = tmp_path_factory.mktemp("increment") / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    before = _versions(lake)
    changed = write_change_set(
        Lake.from_url(str(lake)), fraction=0.01, seed=5, deletions=3, corrected=0.2
    )
    run = ledgerbridge(lake, "run")
    return {"lake": lake, "before": before, "changed": changed, "run": run}


def test_a_journal_change_set_is_built_as_an_increment(incremented: dict) -> None:
    out = incremented["run"].stdout
    assert "Build: journal increment" in out
    after = _versions(incremented["lake"])
    before = incremented["before"]
    assert after["payments"] == before["payments"]  # no journal reaches payments
    for table in ("customers", "open_items", "customer_financial_status"):
        assert after[table] == before[table] + 1  # one merge commit each
    history = DeltaTable(str(incremented["lake"] / "gold" / "open_items")).history(1)
    assert history[0]["operation"] == "MERGE"
    metrics = history[0]["operationMetrics"]
    touched = metrics["num_target_rows_updated"] + metrics["num_target_rows_deleted"]
    assert 0 < touched <= 2 * incremented["changed"]["open_items"]


def test_only_revenue_changes_rebuild_the_forecast(incremented: dict) -> None:
    """A payment changes a customer's status, not the revenue it was invoiced: the forecast
    rebuilds the customers of corrected documents and changed masters only."""
    assert incremented["changed"]["corrected_documents"] > 0
    con = connect(incremented["lake"] / "warehouse.duckdb", read_only=True)
    try:
        kinds = dict(
            con.execute(
                "select key_kind, count(*) from intermediate.int_journal_increment_keys group by 1"
            ).fetchall()
        )
        corrected = con.execute(
            "select count(distinct customer_number) from staging.stg_legacy_cdc__open_item_changes "
            "where change_operation = 'update' and amount != amount_before"
        ).fetchone()[0]
    finally:
        con.close()
    assert corrected > 0
    assert kinds["customer"] < kinds["customer_revenue"] < kinds["customer_status"]
    assert kinds["customer_revenue"] <= kinds["customer"] + 2 * corrected


def test_the_increment_ends_where_a_full_rebuild_ends(incremented: dict, tmp_path: Path) -> None:
    lake = incremented["lake"]
    full = tmp_path / "full"
    shutil.copytree(lake, full, symlinks=True)
    (full / "state" / "dbt" / "published_inputs.json").unlink()
    ledgerbridge(full, "build")
    ledgerbridge(full, "publish")
    assert _differences(lake, full) == dict.fromkeys(_differences(full, full), 0)


def test_deleted_customers_leave_and_their_companies_become_prospects(incremented: dict) -> None:
    """Moved matches: the deleted customers' CRM companies are unmatched now, in the marts
    the increment rebuilt (the equality with a full rebuild covers the rest)."""
    lake = incremented["lake"]
    assert incremented["changed"]["deleted_customers"] == 3
    moved = _query_one(
        lake,
        "select count(*) from intermediate.int_journal_increment_moved_matches "
        "where key_kind = 'company'",
    )
    assert moved >= 3
    companies = (
        "(select cast(substr(key_value, 9) as bigint) from "
        "intermediate.int_journal_increment_moved_matches where key_kind = 'company')"
    )
    still_matched = _query_one(
        lake, f"select count(*) from marts.customers where crm_company_id in {companies}"
    )
    prospects = _query_one(
        lake,
        "select count(*) from marts.customer_matching "
        f"where match_status = 'crm_only' and crm_company_id in {companies}",
    )
    assert still_matched == 0 and prospects >= 3


def _query_one(lake: Path, sql: str) -> int:
    con = connect(lake / "warehouse.duckdb", read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_the_changed_credit_limits_are_in_gold(incremented: dict) -> None:
    lake = incremented["lake"]
    state = DeltaTable(str(lake / "bronze" / "legacy_cdc" / "customers")).to_pyarrow_table(
        columns=["cm_cust_no", "cm_credit_limit", "_journal_sequence"]
    )
    gold = DeltaTable(str(lake / "gold" / "customers")).to_pyarrow_table(
        columns=["customer_number", "credit_limit"]
    )
    numbers, values = gold["customer_number"].to_pylist(), gold["credit_limit"].to_pylist()
    limits = dict(zip(numbers, values, strict=True))
    latest = max(s for s in state["_journal_sequence"].to_pylist() if s is not None)
    recent = [
        (k, v)
        for k, v, s in zip(*(state[c].to_pylist() for c in state.column_names), strict=True)
        if s is not None and s > latest - 40
    ]
    assert recent and all(limits[k] == v for k, v in recent)


def test_the_increments_tests_read_the_touched_rows_and_still_catch_a_duplicate(
    incremented: dict, tmp_path: Path
) -> None:
    """In an increment `unique` reads only the rows sharing a value with a touched row (the
    rest passed it when they were built), and still fails on a duplicate the build made."""
    from pipelines.models.build import BuildFailed, run_dbt

    lake_dir = tmp_path / "lake"
    shutil.copytree(incremented["lake"], lake_dir, symlinks=True)
    lake = Lake.from_url(str(lake_dir))
    select = ["test", "--select", "invoices,test_name:unique"]
    run_dbt(lake, select)
    compiled = next((lake.dbt_target / "run").rglob("unique_invoices_*.sql"))
    assert "int_journal_increment_keys" in compiled.read_text()

    con = connect(lake.warehouse)
    try:
        (touched,) = con.execute(
            "select key_value from intermediate.int_journal_increment_keys "
            "where key_kind = 'document' and key_value in "
            "(select document_number from marts.invoices) limit 1"
        ).fetchone()
        con.execute(
            "insert into marts.invoices select * from marts.invoices where document_number = ?",
            [touched],
        )
    finally:
        con.close()
    with pytest.raises(BuildFailed, match="unique_invoices_document_number"):
        run_dbt(lake, select)


def test_the_increment_tables_match_the_models_declarations(e2e_lake: dict) -> None:
    """pipelines/models/increment.py names the same touched key and kinds as each incremental
    model's meta.journal_increment (which its pre-hook deletes by)."""
    from pipelines.models.increment import INCREMENTAL_TABLES

    manifest = json.loads(
        (e2e_lake["lake"] / "state" / "dbt" / "target" / "manifest.json").read_text()
    )
    found = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"]["materialized"] != "incremental":
            continue
        (hook,) = [h["sql"] for h in node["config"]["pre-hook"]]
        assert hook.strip() == "{{ journal_increment_delete() }}", node["name"]
        spec = node["config"]["meta"]["journal_increment"]
        found[(node["schema"], node["alias"])] = (spec["touched_by"], tuple(spec["kinds"]))
    expected = {t: (spec.touched_by, spec.kinds) for t, spec in INCREMENTAL_TABLES.items()}
    assert found == expected


def _snapshot(tables: dict[str, int], as_of: str = "2026-10-31", base: str = "2026-10-30"):
    return {
        "project": "p",
        "tables": tables,
        "positions": {
            j: {
                "baseline_extract_date": base,
                "baseline_sequence": 1,
                "applied_through_sequence": seq,
                "as_of_date": as_of,
            }
            for j, seq in (("customers", 10), ("open_items", 20))
        },
    }


def test_the_plan_is_an_increment_only_for_journal_changes_within_the_day(tmp_path: Path) -> None:
    lake = Lake.from_url(str(tmp_path / "lake")).ensure()
    lake.warehouse.write_bytes(b"")
    (lake.state / "dbt").mkdir(parents=True, exist_ok=True)
    tables = {"bronze/legacy/customers": 1, "bronze/legacy_cdc/customers": 3, "bronze/crm/x": 2}
    record_published(lake, _snapshot(tables))

    def plan(**changes: object) -> BuildPlan:
        snap = _snapshot({**tables, **changes.pop("tables", {})}, **changes)
        return plan_build(lake, json.loads(json.dumps(snap)))

    journal = plan(tables={"bronze/legacy_cdc/customers": 4})
    assert journal.mode == "journal_increment"
    assert journal.journal_since == {"customers": 10, "open_items": 20}
    assert plan(tables={"bronze/legacy/customers": 2}).mode == "full"  # a new extract
    assert plan(tables={"bronze/crm/x": 3}).mode == "full"  # CRM changes
    new_day = plan(tables={"bronze/legacy_cdc/customers": 4}, as_of="2026-11-01")
    assert new_day.mode == "full" and "as-of day" in new_day.why
    rebaseline = plan(tables={"bronze/legacy_cdc/customers": 4}, base="2026-10-31")
    assert rebaseline.mode == "full" and "re-baseline" in rebaseline.why
