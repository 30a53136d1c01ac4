"""Both directions end to end, through the real commands: a CRM company is renamed and a
customer pays its invoices in the legacy system; the next run shows both in the marts, and
`sync-crm` writes the new payment status back to the CRM, with sync log and audit entries."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
from deltalake import DeltaTable

from pipelines.copybook import parse_copybook
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk
from pipelines.embedded.crm_sandbox.store import CrmStore
from pipelines.embedded.demo import legacy_files as lf
from pipelines.embedded.demo.world import to_days
from pipelines.lake.paths import Lake
from pipelines.models.warehouse import connect
from pipelines.sources.legacy.feeds import feed_by_name
from pipelines.writeback.sync import log_path
from tests.conftest import ledgerbridge

NEXT_DAY = date(2026, 10, 31)


def _query(lake: Lake, sql: str) -> list[tuple]:
    con = connect(lake.warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _pay_all_open_items_of(lake: Lake, customer: int) -> int:
    """Next day's extracts: the customer's open items cleared, their payments booked."""
    items = feed_by_name("open_items")
    folder = lake.legacy_landing / items.folder
    (previous,) = sorted(folder.glob("AROPEN_D*.dat"))[-1:]
    layout = parse_copybook((lf.COPYBOOK_DIR / items.copybook).read_text())[items.detail_record]
    raw = np.frombuffer(previous.read_bytes(), dtype=np.uint8).reshape(-1, layout.size)[1:-1]
    table, faults = decode_chunk(raw, layout, DecodeOptions(codepage=items.codepage))
    bad = np.zeros(len(raw), dtype=bool)
    for f in faults:
        bad |= f.bad
    cust = np.array(table.column("oi_cust_no").to_pylist(), dtype=object)
    cents = {
        c: np.array([0 if v is None else int(v * 100) for v in table.column(c).to_pylist()])
        for c in ("oi_amount", "oi_open_amount")
    }
    paid = (cust == customer) & ~bad & (cents["oi_open_amount"] != 0)
    keep = ~bad & ~paid
    writer = lf.ExtractWriter(items, folder / f"AROPEN_D{NEXT_DAY:%Y%m%d}.dat", NEXT_DAY)
    writer.write(raw[keep].copy(), {c: v[keep] for c, v in cents.items()})
    writer.close()
    payments = feed_by_name("payments")
    pw = lf.ExtractWriter(
        payments,
        lake.legacy_landing / payments.folder / f"ARPAYM_D{NEXT_DAY:%Y%m%d}.dat",
        NEXT_DAY,
    )
    n = int(paid.sum())
    p = {
        "payment_id": [f"PTEST{i:07d}" for i in range(n)],
        "cust_no": np.full(n, customer),
        "doc_no": [str(d) for d in np.array(table.column("oi_doc_no").to_pylist())[paid]],
        "value_date": np.full(n, to_days(NEXT_DAY)),
        "amount": cents["oi_open_amount"][paid],
        "currency": list(np.array(table.column("oi_currency").to_pylist())[paid]),
        "method": ["UE"] * n,
    }
    pw.write(lf.payment_records(pw, p), {"pm_amount": p["amount"]})
    pw.close()
    return n


def test_a_rename_and_a_payment_flow_both_ways(e2e_lake: dict, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], root)
    lake = Lake(root)
    ledgerbridge(root, "sync-crm")  # the CRM holds today's finance status
    (customer, company), (_, renamed) = _query(
        lake,
        "select customer_number, crm_company_id from marts.customer_financial_status "
        "where payment_status = 'overdue' and crm_company_id is not null "
        "order by customer_number limit 2",
    )
    store = CrmStore(lake.crm_sandbox_db)
    assert store.get("companies", company)["properties"]["lb_payment_status"] == "overdue"
    store.update_properties("companies", renamed, {"name": "Umbenannt Handels AG"})
    store.close()
    assert _pay_all_open_items_of(lake, customer) > 0

    ledgerbridge(root, "run")

    ((status, open_eur, last_paid),) = _query(
        lake,
        "select payment_status, open_amount_eur, last_payment_date "
        f"from marts.customer_financial_status where customer_number = {customer}",
    )
    assert (status, str(open_eur), last_paid) == ("current", "0.00", NEXT_DAY)
    ((name,),) = _query(
        lake, f"select crm_company_name from marts.customers where crm_company_id = {renamed}"
    )
    assert name == "Umbenannt Handels AG"

    proc = ledgerbridge(root, "sync-crm")
    assert "failed 0" in proc.stdout
    store = CrmStore(lake.crm_sandbox_db)
    props = store.get("companies", company)["properties"]
    store.close()
    assert props["lb_payment_status"] == "current"
    assert props["lb_open_amount_eur"] == "0.00"
    assert props["lb_last_payment_date"] == NEXT_DAY.isoformat()
    log = DeltaTable(log_path(lake)).to_pyarrow_table().to_pylist()
    runs = sorted({r["run_id"] for r in log})
    latest = [r for r in log if r["run_id"] == runs[-1] and r["object_id"] == str(company)]
    assert len(latest) == 1 and latest[0]["status"] == "ok"
    assert {"lb_payment_status", "lb_open_amount_eur"} <= set(latest[0]["fields_changed"])
    entries = [json.loads(x) for x in (lake.audit / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in entries][-3:] == ["crm_writeback", "pipeline_run", "crm_writeback"]
    assert entries[-1]["run_id"] == runs[-1]
    assert ledgerbridge(root, "audit", "verify").returncode == 0


def test_a_customer_deleted_in_finance_has_its_crm_properties_cleared(
    e2e_lake: dict, tmp_path: Path
) -> None:
    """The journal deletes a customer the CRM was told about: after the next run and
    sync-crm its company's finance properties are cleared, not left stale."""
    root = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], root)
    lake = Lake(root)
    ledgerbridge(root, "sync-crm")
    ((customer, company),) = _query(
        lake,
        "select customer_number, crm_company_id from marts.customer_financial_status "
        "where crm_company_id is not null order by customer_number limit 1",
    )
    truth = e2e_lake["truth"]["journals"]["customers"]
    folder = root / "landing" / "legacy" / "journals" / "customers"
    template = sorted(folder.glob("*.dat"))[0].read_bytes()[:409]
    entry = bytearray(template)
    entry[0:10] = f"{truth['last_sequence'] + 1:010d}".encode("cp273")
    entry[11:13] = b"DL".decode().encode("cp273")
    entry[79:89] = b"0000000000".decode().encode("cp273")
    entry[90:98] = f"{customer:08d}".encode("cp273")
    (folder / "JRNCUST_R000009.dat").write_bytes(bytes(entry))
    ledgerbridge(root, "run")
    assert _query(
        lake, f"select count(*) from marts.customers where customer_number = {customer}"
    ) == [(0,)]
    proc = ledgerbridge(root, "sync-crm")
    assert "failed 0" in proc.stdout
    store = CrmStore(lake.crm_sandbox_db)
    props = store.get("companies", company)["properties"]
    store.close()
    assert props.get("lb_finance_customer_number", "") == ""
    assert props.get("lb_payment_status", "") == ""
    assert props.get("lb_open_amount_eur", "") == ""
