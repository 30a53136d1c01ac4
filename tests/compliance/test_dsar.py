"""Subject access export over a built lake: by customer number and by e-mail, every layer
that holds the subject is listed with purpose, legal basis and retention; the audit log
records the request without the person's e-mail."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.lake.paths import Lake
from pipelines.models.warehouse import connect
from tests.conftest import ledgerbridge


def _subject(lake: Path) -> tuple[int, str]:
    con = connect(lake / "warehouse.duckdb", read_only=True)
    try:
        return con.execute(
            "select c.customer_number, c.email from staging.stg_legacy__customers c "
            "join marts.customers d using (customer_number) "
            "where c.email is not null and d.crm_company_id is not null "
            "and c.customer_number in (select customer_number from marts.open_items) "
            "order by 1 limit 1"
        ).fetchone()
    finally:
        con.close()


def test_export_by_customer_and_by_email(e2e_lake: dict, tmp_path: Path) -> None:
    lake = e2e_lake["lake"]
    customer, email = _subject(lake)
    out = tmp_path / "dsar.json"
    ledgerbridge(lake, "dsar", "--customer", str(customer), "--out", str(out))
    report = json.loads(out.read_text())
    assert report["subject"]["customer_numbers"] == [customer]
    assert email in report["subject"]["emails"] and report["subject"]["crm_company_ids"]
    by_location = {i["location"]: i for i in report["items"]}
    layers = {i["layer"] for i in report["items"]}
    assert {"bronze", "warehouse", "gold", "landing"} <= layers
    master = by_location["bronze/legacy/customers"]
    assert master["records"][0]["cm_email"] == email
    assert master["retention"] == "books_10y" and "HGB" in master["legal_basis"]
    assert by_location["bronze/legacy/open_items"]["retention"] == "accounting_8y"
    assert "warehouse.duckdb marts.customer_financial_status" in by_location
    assert "gold/customers" in by_location
    assert any(loc.startswith("landing/legacy/customers/") for loc in by_location)
    for item in report["items"]:
        assert item["purpose"] and item["legal_basis"] and item["retention"]
    by_email = json.loads(ledgerbridge(lake, "dsar", "--email", email.upper()).stdout)
    assert by_email["subject"]["customer_numbers"] == [customer]
    audit = [json.loads(x) for x in (Lake(lake).audit / "audit.jsonl").read_text().splitlines()]
    dsars = [e for e in audit if e["action"] == "dsar_export"]
    assert dsars[-2]["target"] == f"customer {customer}"
    assert email.lower() not in json.dumps(dsars) and dsars[-1]["target"].startswith(
        "email sha256:"
    )


def test_exactly_one_subject_key(e2e_lake: dict) -> None:
    proc = ledgerbridge(e2e_lake["lake"], "dsar", check=False)
    assert proc.returncode == 2 and "exactly one of --email or --customer" in proc.stderr
