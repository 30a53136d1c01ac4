"""`ledgerbridge forget`: after an erasure, a byte-level scan of every file under the lake
finds none of the subject's e-mail, names or IBAN — raw, in EBCDIC, in compressed Parquet
pages, in DuckDB files, in dlt's load packages, in Delta history — while the books still
add up; a later delivery of the same customer lands pseudonymised; time travel to the
erased versions is gone; the CRM erased the contact and the audit log names no one."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from deltalake import DeltaTable

from pipelines.compliance import restrictions
from pipelines.compliance.byte_scan import scan
from pipelines.lake.paths import Lake
from pipelines.models.warehouse import connect
from tests.conftest import ledgerbridge


def _query(lake: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = connect(lake / "warehouse.duckdb", read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _unique_subject(lake: Path) -> tuple[int, list[str]]:
    """A customer with an e-mail, a CRM company, open items, and values nobody else has
    (so any hit of the scan is a leftover of this person)."""
    rows = _query(
        lake,
        "with c as (select * from staging.stg_legacy__customers), "
        "names as (select v from (select customer_name v from c union all "
        "select contact_name from c union all select iban from c union all "
        "select email from c) group by v having count(*) = 1) "
        "select c.customer_number, c.email, c.customer_name, c.contact_name, c.iban "
        "from c join marts.customers d using (customer_number) "
        "where d.crm_company_id is not null and c.email is not null "
        "and c.customer_number in (select customer_number from marts.open_items) "
        "and c.customer_name in (select v from names) and c.contact_name in "
        "(select v from names) and c.iban in (select v from names) order by 1",
    )
    assert rows, "the demo has no customer with unique personal values"
    number, *values = rows[0]
    return number, [str(v) for v in values]


def _books(lake: Path) -> tuple:
    return _query(
        lake,
        "select (select count(*) from marts.customers), "
        "(select sum(open_amount_eur) from marts.open_items), "
        "(select count(*) from marts.open_items), "
        "(select sum(amount_eur) from marts.payments)",
    )[0]


@pytest.fixture(scope="module")
def erased(e2e_lake: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    lake = tmp_path_factory.mktemp("erasure") / "lake"
    shutil.copytree(e2e_lake["lake"], lake)
    customer, values = _unique_subject(lake)
    before_scan = scan(lake, values)
    books = _books(lake)
    out = ledgerbridge(lake, "forget", "--customer", str(customer))
    return {
        "lake": lake,
        "customer": customer,
        "values": values,
        "before_scan": before_scan,
        "books": books,
        "out": out.stdout + out.stderr,
    }


def test_no_byte_of_the_subject_is_left(erased: dict) -> None:
    lake = erased["lake"]
    hidden = {how for _, how in erased["before_scan"]}
    # the scan can fail: before, it found the person in every form it looks at
    assert {"raw bytes", "decoded"} <= hidden, erased["before_scan"]
    assert any("/landing/legacy/customers/" in f for f, _ in erased["before_scan"])
    # dlt deletes a package's data files once loaded: its working folder holds no rows
    assert not [p for p in (lake / "state/dlt").rglob("*") if p.suffix in (".parquet", ".gz")]
    email, company_name, contact, iban = erased["values"]
    assert scan(lake, [email, contact, iban]) == []
    # the customer's name is also the name of the CRM company, a record the CRM keeps (the
    # demo CRM stores it under landing/crm; in production it is the CRM vendor's): outside
    # the CRM's own store, the lake holds it nowhere any more
    assert [f for f, _ in scan(lake, [company_name]) if "/landing/crm/" not in f] == []


def test_books_still_add_up_and_the_customer_is_restricted(erased: dict) -> None:
    lake, customer = erased["lake"], erased["customer"]
    assert _books(lake) == erased["books"]
    name, company, flagged, until = _query(
        lake,
        "select customer_name, crm_company_id, is_restricted, erasable_on "
        "from marts.customers where customer_number = ?",
        [customer],
    )[0]
    assert name.startswith("p_")  # the customer stays in the books, pseudonymised
    assert company is None  # the CRM company of the person was erased
    entry = next(e for e in restrictions.entries(Lake(lake)) if e["customer"] == customer)
    erasable = date.fromisoformat(entry["erasable_on"])
    assert flagged is True and until == erasable  # the marts carry the restriction
    others = _query(lake, "select count(*) from marts.customers where is_restricted")[0][0]
    assert others == 1
    assert erasable.month == 1 and erasable.day == 1
    assert erasable.year >= date.today().year + 11  # books: 10 years from this year's end
    assert "restricted" in erased["out"] and "erasable on" in erased["out"]


def test_history_is_gone_and_the_audit_names_no_one(erased: dict) -> None:
    lake = erased["lake"]
    with pytest.raises(Exception, match=r"(?i)version|not found|no such|log"):
        DeltaTable(str(lake / "bronze/legacy/customers"), version=0).to_pyarrow_table()
    audit = (Lake(lake).audit / "audit.jsonl").read_text()
    entry = [json.loads(x) for x in audit.splitlines() if '"erasure"' in x][-1]
    assert entry["target"] == f"customer {erased['customer']}"
    assert entry["details"]["erased_in_crm"] == 1
    for value in erased["values"]:
        assert value.lower() not in audit.lower()
    ledgerbridge(lake, "audit", "verify")


def test_a_later_delivery_lands_pseudonymised(erased: dict, e2e_lake: dict) -> None:
    lake, customer = erased["lake"], erased["customer"]
    delivered = sorted((e2e_lake["lake"] / "landing/legacy/customers").glob("*.dat"))[-1]
    again = lake / "landing/legacy/customers" / "ARCUST_D20991231.dat"
    shutil.copy(delivered, again)  # the same extract delivered again under a new name
    email, _, contact, iban = erased["values"]
    assert scan(lake, [email, contact, iban])  # the clear values are back in landing …
    ledgerbridge(lake, "run")
    assert scan(lake, [email, contact, iban]) == []  # … and nowhere after the run
    (name,) = _query(
        lake,
        "select customer_name from staging.stg_legacy__customers where customer_number = ?",
        [customer],
    )[0]
    assert name.startswith("p_")


def test_a_crm_contact_is_erased_everywhere_and_in_the_crm(erased: dict) -> None:
    """A contact person with no accounting records: nothing to retain, everything goes."""
    lake = erased["lake"]
    contacts = DeltaTable(str(lake / "bronze/crm/contacts")).to_pyarrow_table().to_pylist()
    masters = {e for (e,) in _query(lake, "select email from staging.stg_legacy__customers")}
    full = [f"{c['firstname']} {c['lastname']}" for c in contacts]
    person = next(
        c
        for c, name in zip(contacts, full, strict=True)
        if c["email"] and c["email"] not in masters and full.count(name) == 1 and c["phone"]
    )
    values = [person["email"], person["phone"]]
    assert scan(lake, values)
    out = ledgerbridge(lake, "forget", "--email", person["email"].upper())
    assert "deleted 1 rows from bronze/crm/contacts" in out.stdout + out.stderr
    assert scan(lake, values) == []
    ids = DeltaTable(str(lake / "bronze/crm/contacts")).to_pyarrow_table()["id"].to_pylist()
    assert person["id"] not in ids
    ledgerbridge(lake, "extract", "crm")  # the CRM erased them, and they are suppressed
    ids = DeltaTable(str(lake / "bronze/crm/contacts")).to_pyarrow_table()["id"].to_pylist()
    assert person["id"] not in ids


def _rows(lake: Path, location: str) -> list[dict]:
    return DeltaTable(str(lake / location)).to_pyarrow_table().to_pylist()


def test_retention_purges_accounting_records_after_eight_years(erased: dict) -> None:
    lake = erased["lake"]
    items = _rows(lake, "bronze/legacy/open_items")  # a few have no date: they are kept
    oldest = min(r["oi_doc_date"].year for r in items if r["oi_doc_date"])
    as_of = f"{oldest + 9}-06-01"  # year `oldest` ended 8 years and 5 months before
    expired = sum(r["oi_doc_date"] is not None and r["oi_doc_date"].year <= oldest for r in items)
    assert 0 < expired < len(items)
    dry = ledgerbridge(lake, "retention", "--as-of", as_of, "--dry-run")
    assert f"would purge {expired:,} rows from bronze/legacy/open_items" in dry.stdout + dry.stderr
    assert len(_rows(lake, "bronze/legacy/open_items")) == len(items)
    ledgerbridge(lake, "retention", "--as-of", as_of)
    left = _rows(lake, "bronze/legacy/open_items")
    assert len(left) == len(items) - expired
    assert min(r["oi_doc_date"].year for r in left if r["oi_doc_date"]) == oldest + 1
    (marts_oldest,) = _query(lake, "select min(year(document_date)) from marts.invoices")[0]
    assert marts_oldest == oldest + 1
    # the restricted customer's day has not come
    assert any(e["customer"] == erased["customer"] for e in restrictions.entries(Lake(lake)))


def test_retention_erases_a_restricted_customer_on_the_day(erased: dict) -> None:
    lake, customer = erased["lake"], erased["customer"]
    restrictions.set_erasable_on(Lake(lake), customer, date(2000, 1, 1))  # the years pass
    out = ledgerbridge(lake, "retention")
    assert str(customer) in out.stdout + out.stderr
    for location, column in (
        ("bronze/legacy/customers", "cm_cust_no"),
        ("bronze/legacy/open_items", "oi_cust_no"),
        ("bronze/legacy/payments", "pm_cust_no"),
    ):
        assert all(r[column] != customer for r in _rows(lake, location)), location
    assert not _query(lake, "select 1 from marts.customers where customer_number = ?", [customer])
    assert all(e["customer"] != customer for e in restrictions.entries(Lake(lake)))
    ledgerbridge(lake, "audit", "verify")


def test_forgetting_someone_unknown_changes_nothing(erased: dict) -> None:
    lake = erased["lake"]
    before = restrictions.entries(Lake(lake))
    out = ledgerbridge(lake, "forget", "--customer", "99999999")
    assert "holds nothing about this subject" in out.stdout + out.stderr
    assert restrictions.entries(Lake(lake)) == before
