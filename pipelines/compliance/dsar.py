"""Subject access (GDPR Art. 15/20): everything held about one person or customer, across
landing, bronze, warehouse and gold, with source, purpose, legal basis and retention.

A subject is found by e-mail (CRM contacts, the customer master's contact e-mail) or by
finance customer number; an e-mail that belongs to a customer's master record pulls in
that customer's records too, and a customer pulls in the CRM company matched to it.
The export is machine-readable JSON; values are exported as held (decimals as text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from pipelines.lake.paths import Lake

DATA_MAP = Path(__file__).with_name("data_map.yml")

# the column that holds the subject's key, per table and key kind
CUSTOMER_KEYS = {
    "bronze/legacy/customers": "cm_cust_no",
    "bronze/legacy/open_items": "oi_cust_no",
    "bronze/legacy/payments": "pm_cust_no",
    "bronze/legacy_cdc/customers_changes": "cm_cust_no",
    "bronze/legacy_cdc/customers_base": "cm_cust_no",
    "bronze/legacy_cdc/customers": "cm_cust_no",
    "bronze/legacy_cdc/open_items_changes": "oi_cust_no",
}
EMAIL_KEYS = {"bronze/legacy/customers": "cm_email", "bronze/crm/contacts": "email"}
COMPANY_KEYS = {"bronze/crm/companies": "id", "bronze/crm/contacts": "company_id"}
WAREHOUSE_KEYS = ("customer_number", "crm_company_id", "email")


@dataclass
class Subject:
    emails: set[str] = field(default_factory=set)
    customers: set[int] = field(default_factory=set)
    companies: set[int] = field(default_factory=set)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_table(lake: Lake, location: str, columns: list[str] | None = None) -> pa.Table | None:
    """A Delta table of the lake as Arrow, or None where the lake has none (yet)."""
    try:
        return DeltaTable(str(lake.data / location)).to_pyarrow_table(columns=columns)
    except (TableNotFoundError, FileNotFoundError):
        return None


def _match(table: pa.Table, column: str, values: set) -> pa.Table:
    if column not in table.column_names or not values:
        return table.slice(0, 0)
    col = table[column]
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return table.filter(pc.is_in(pc.utf8_lower(col), pa.array(sorted(values), pa.string())))
    return table.filter(pc.is_in(col, pa.array(sorted(values), col.type)))


def resolve(lake: Lake, email: str | None, customer: int | None) -> Subject:
    """Everything the subject is known as: e-mails, customer numbers, CRM companies."""
    subject = Subject()
    if email:
        subject.emails.add(email.strip().lower())
    if customer:
        subject.customers.add(int(customer))
    masters = read_table(lake, "bronze/legacy/customers")
    if masters is not None:
        for row in _match(masters, "cm_email", subject.emails).to_pylist():
            subject.customers.add(int(row["cm_cust_no"]))
        for row in _match(masters, "cm_cust_no", subject.customers).to_pylist():
            if row.get("cm_email"):
                subject.emails.add(row["cm_email"].lower())
    contacts = read_table(lake, "bronze/crm/contacts")
    if contacts is not None:
        for row in _match(contacts, "email", subject.emails).to_pylist():
            if row.get("company_id"):
                subject.companies.add(int(row["company_id"]))
    if lake.warehouse.exists() and subject.customers:
        from pipelines.models.warehouse import connect

        con = connect(lake.readable_warehouse(), read_only=True)
        try:
            marks = ",".join(str(c) for c in sorted(subject.customers))
            for (company,) in con.execute(
                "select crm_company_id from marts.customers "
                f"where customer_number in ({marks}) and crm_company_id is not null"
            ).fetchall():
                subject.companies.add(int(company))
        finally:
            con.close()
    return subject


def export(lake: Lake, email: str | None = None, customer: int | None = None) -> dict:
    """The subject access export as a JSON-ready dict."""
    if not email and not customer:
        raise ValueError("give an e-mail or a customer number")
    from pipelines.contracts import data_map_tables

    data_map = yaml.safe_load(DATA_MAP.read_text())
    subject = resolve(lake, email, customer)
    items: list[dict] = []
    for entry in data_map_tables():
        location = entry["location"]
        table = read_table(lake, location)
        if table is None:
            continue
        found = []
        for keys, values in (
            (CUSTOMER_KEYS, subject.customers),
            (EMAIL_KEYS, subject.emails),
            (COMPANY_KEYS, subject.companies),
        ):
            if location in keys:
                found.append(_match(table, keys[location], values))
        rows = [r for t in found for r in t.to_pylist()]
        unique = list({json.dumps(_plain(r), sort_keys=True): r for r in rows}.values())
        if unique:
            items.append(
                {
                    "layer": location.split("/")[0],
                    "location": location,
                    "source": entry["source"],
                    "purpose": entry["purpose"],
                    "legal_basis": entry["legal_basis"],
                    "retention": entry["retention"],
                    "personal_fields": entry["personal"],
                    "records": [_plain(r) for r in unique],
                }
            )
    items += _warehouse_items(lake, subject, data_map["warehouse"])
    items += _gold_items(lake, subject, data_map["gold"])
    items += _landing_items(lake, subject)
    return {
        "subject": {
            "emails": sorted(subject.emails),
            "customer_numbers": sorted(subject.customers),
            "crm_company_ids": sorted(subject.companies),
        },
        "generated_at": datetime.now(UTC).isoformat(),
        "controller_note": "Accounting records are kept for their legal retention period "
        "(HGB §257, AO §147) even after an erasure request; they are then restricted.",
        "items": items,
    }


def _warehouse_items(lake: Lake, subject: Subject, meta: dict) -> list[dict]:
    if not lake.warehouse.exists():
        return []
    from pipelines.models.warehouse import connect

    con = connect(lake.readable_warehouse(), read_only=True)
    items = []
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            f"where column_name in {WAREHOUSE_KEYS} and table_schema in ('staging', 'marts')"
        ).fetchall()
        wanted = {
            "customer_number": subject.customers,
            "crm_company_id": subject.companies,
            "email": subject.emails,
        }
        by_table: dict[tuple[str, str], list[str]] = {}
        for schema, name, column in columns:
            by_table.setdefault((schema, name), []).append(column)
        for (schema, name), cols in sorted(by_table.items()):
            used = [c for c in cols if wanted[c]]
            if not used:
                continue
            where = " or ".join(f"list_contains(?, {c})" for c in used)
            cur = con.execute(
                f"select * from {schema}.{name} where {where}", [sorted(wanted[c]) for c in used]
            )
            names = [d[0] for d in cur.description]
            rows = [_plain(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
            if rows:
                items.append(
                    {
                        "layer": "warehouse",
                        "location": f"warehouse.duckdb {schema}.{name}",
                        "source": "built by dbt from bronze",
                        **{k: meta[k] for k in ("purpose", "legal_basis", "retention")},
                        "records": rows,
                    }
                )
    finally:
        con.close()
    return items


def _gold_items(lake: Lake, subject: Subject, meta: dict) -> list[dict]:
    items = []
    if not lake.gold.exists():
        return items
    for folder in sorted(p for p in lake.gold.iterdir() if (p / "_delta_log").is_dir()):
        table = DeltaTable(str(folder)).to_pyarrow_table()
        found = [
            _match(table, c, v)
            for c, v in (
                ("customer_number", subject.customers),
                ("crm_company_id", subject.companies),
            )
            if c in table.column_names
        ]
        rows = [_plain(r) for t in found for r in t.to_pylist()]
        if rows:
            items.append(
                {
                    "layer": "gold",
                    "location": f"gold/{folder.name}",
                    "source": "published marts",
                    **{k: meta[k] for k in ("purpose", "legal_basis", "retention")},
                    "records": rows,
                }
            )
    return items


def _landing_items(lake: Lake, subject: Subject) -> list[dict]:
    """Landing files are kept as delivered: list the records of the subject they hold."""
    from pipelines.sources.legacy.extract_file import LegacyFile
    from pipelines.sources.legacy.feeds import feed_by_name

    feed = feed_by_name("customers")
    folder = lake.legacy_landing / feed.folder
    items = []
    if not folder.is_dir() or not subject.customers:
        return items
    copybook = (lake.copybooks / feed.copybook).read_text()
    for path in sorted(folder.glob(feed.file_glob)):
        hits = []
        for kind, table in LegacyFile(str(path), path.name, feed, copybook).batches():
            if kind == "data":
                hits += _match(table, "cm_cust_no", subject.customers).to_pylist()
        if hits:
            items.append(
                {
                    "layer": "landing",
                    "location": f"landing/legacy/{feed.folder}/{path.name}",
                    "source": "customer master extract as delivered (EBCDIC)",
                    "purpose": "proof of delivery; reprocessing",
                    "legal_basis": "GDPR Art. 6(1)(c) HGB/AO",
                    "retention": "books_10y",
                    "records": [_plain(r) for r in hits],
                }
            )
    return items
