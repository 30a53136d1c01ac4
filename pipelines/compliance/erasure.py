"""Erasure (GDPR Art. 17) and, where the books must be kept, restriction (Art. 18 with
§ 35(3) BDSG) of one subject, everywhere the lake holds them.

What goes and what stays follows the retention class of each table in data_map.yml:
`crm` rows (CRM contacts, the CRM company of a customer who is a person) are deleted;
`accounting_8y` / `books_10y` rows keep their amounts and keys but the person's fields are
replaced by keyed pseudonyms, and the subject goes on the restriction register with the
date the records become erasable; `operational_1y` rows of the subject (quarantined raw
records) are deleted. Then every copy is chased down: Delta history (old data files,
`_delta_log` statistics and checkpoints), landing files as delivered (EBCDIC fields
overwritten in place), dlt's load packages, and the DuckDB warehouse (rebuilt and compacted,
since DuckDB never zeroes freed blocks). See notes/DOMAIN.md for why each step is needed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.compliance.dsar import CUSTOMER_KEYS, Subject, read_table, resolve
from pipelines.compliance.restrictions import PERSONAL_MASTER_COLUMNS, pseudonymise_rows
from pipelines.compliance.retention import RETENTION_YEARS
from pipelines.contracts import data_map_tables
from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake

# the date column that places a record of an accounting table in its year
RECORD_DATES = {
    "bronze/legacy/open_items": "oi_doc_date",
    "bronze/legacy/payments": "pm_value_date",
}


@dataclass
class ErasureReport:
    customers: list[int] = field(default_factory=list)
    emails: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    restricted: dict[str, int] = field(default_factory=dict)
    erasable_on: str | None = None
    landing_files_rewritten: list[str] = field(default_factory=list)
    delta_tables_purged: int = 0
    dlt_packages_removed: int = 0

    def changed_anything(self) -> bool:
        return bool(self.deleted or self.restricted or self.landing_files_rewritten)


def _uri(lake: Lake, location: str) -> str:
    return str(lake.data / location)


def _rows_of(table: pa.Table, location: str, subject: Subject) -> pa.Array:
    """Boolean mask of the subject's rows in a table of the data map."""
    mask = pa.array(np.zeros(table.num_rows, dtype=bool))
    column = CUSTOMER_KEYS.get(location)
    if column and column in table.column_names and subject.customers:
        keys = pa.array(sorted(subject.customers), table[column].type)
        mask = pc.or_(mask, pc.fill_null(pc.is_in(table[column], keys), False))
    for name in ("cm_email", "email"):
        if name in table.column_names and subject.emails:
            lowered = pc.utf8_lower(table[name])
            hit = pc.is_in(lowered, pa.array(sorted(subject.emails), pa.string()))
            mask = pc.or_(mask, pc.fill_null(hit, False))
    return mask


def _restrict_table(
    lake: Lake, location: str, personal: list[str], subject: Subject, key: bytes
) -> int:
    table = read_table(lake, location)
    if table is None:
        return 0
    mask = _rows_of(table, location, subject)
    hits = pc.sum(mask).as_py() or 0
    if not hits:
        return 0
    for name in personal:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, pseudonymise_rows(table[name], key, mask))
    fence()
    write_deltalake(_uri(lake, location), table, mode="overwrite")
    return hits


def _delete_rows(lake: Lake, location: str, id_column: str, ids: set[int]) -> int:
    """Delete by key, never by the personal value: a DELETE commit keeps its predicate."""
    if not ids:
        return 0
    try:
        dt = DeltaTable(_uri(lake, location))
    except (TableNotFoundError, FileNotFoundError):
        return 0
    listed = ", ".join(str(int(i)) for i in sorted(ids))
    metrics = dt.delete(f"{id_column} IN ({listed})")
    return int(metrics.get("num_deleted_rows", 0))


def _quarantined_rows(lake: Lake, needles: list[str]) -> list[tuple[str, int]]:
    """(file, record number) of quarantined raw records holding any of the subject's values."""
    table = read_table(lake, "bronze/legacy/quarantine")
    if table is None or not needles:
        return []
    hits: list[tuple[str, int]] = []
    columns = ["source_file", "record_number", "fields", "raw_record_hex"]
    for row in table.select(columns).to_pylist():
        text = f"{row['fields'] or ''}\n{row['raw_record_hex'] or ''}".lower()
        if any(n in text for n in needles):
            hits.append((row["source_file"], int(row["record_number"])))
    return hits


def _delete_quarantined(lake: Lake, rows: list[tuple[str, int]]) -> int:
    if not rows:
        return 0
    dt = DeltaTable(_uri(lake, "bronze/legacy/quarantine"))
    each = " OR ".join(
        f"(source_file = '{f.replace(chr(39), chr(39) * 2)}' AND record_number = {n})"
        for f, n in rows
    )
    return int(dt.delete(each).get("num_deleted_rows", 0))


def _needles(subject: Subject, clear_values: list[str], codepage: str) -> list[str]:
    """What the subject's values look like in quarantined rows: text and EBCDIC hex."""
    out = []
    for value in [*subject.emails, *clear_values]:
        if value and len(value) >= 4:
            out.append(value.lower())
            out.append(value.encode(codepage, errors="replace").hex())
    return out


def erasable_on(lake: Lake, subject: Subject, today: date) -> date | None:
    """The day the subject's restricted records may be erased: the latest year among their
    accounting records plus its retention, from the end of that year; the master data is
    kept as long as the books (10 years from the end of this year, the relation's last)."""
    if not subject.customers:
        return None
    last = date(today.year + RETENTION_YEARS["books_10y"] + 1, 1, 1)
    for location, column in RECORD_DATES.items():
        table = read_table(lake, location)
        if table is None or column not in table.column_names:
            continue
        mine = table.filter(_rows_of(table, location, subject))
        newest = pc.max(mine[column]).as_py() if mine.num_rows else None
        if newest is not None:
            last = max(last, date(newest.year + RETENTION_YEARS["accounting_8y"] + 1, 1, 1))
    return last


def purge_history(uri: str) -> None:
    """Leave the table only its current version: removed data files, the log entries and
    checkpoints that listed them (with their min/max statistics) are deleted."""
    dt = DeltaTable(uri)
    dt.alter.set_table_properties(
        {
            "delta.logRetentionDuration": "interval 0 seconds",
            "delta.deletedFileRetentionDuration": "interval 0 seconds",
        },
        raise_if_not_exists=False,
    )
    dt = DeltaTable(uri)
    dt.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True)
    dt.create_checkpoint()
    dt.cleanup_metadata()


def drop_dlt_packages(lake: Lake) -> int:
    """dlt keeps every loaded package (the rows as loaded) in its working folder."""
    removed = 0
    for folder in (lake.dlt_pipelines).glob("*/load/loaded/*"):
        shutil.rmtree(folder)
        removed += 1
    for folder in (lake.dlt_pipelines).glob("*/normalize/extracted/*"):
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def compact_duckdb(path: Path) -> None:
    """Copy the database into a fresh file and swap it in: freed blocks (which DuckDB never
    zeroes) do not come along."""
    import duckdb

    if not path.exists():
        return
    fresh = path.with_suffix(".compact.duckdb")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute(f"attach '{path}' as old (read_only)")
        con.execute(f"attach '{fresh}' as fresh")
        con.execute("copy from database old to fresh")
        con.execute("detach old")
        con.execute("detach fresh")
    finally:
        con.close()
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def forget(
    lake: Lake, key: bytes, email: str | None = None, customer: int | None = None,
    today: date | None = None,
) -> tuple[ErasureReport, Subject]:  # fmt: skip
    """Erase or restrict the subject in bronze and landing; the caller rebuilds the
    warehouse and gold from the corrected bronze, then calls `finish`."""
    from pipelines.compliance.landing_rewrite import rewrite_customer_records
    from pipelines.compliance.restrictions import register

    today = today or datetime.now(UTC).date()
    subject = resolve(lake, email, customer)
    subject.customers &= _known_customers(lake)  # a number nobody holds is not registered
    report = ErasureReport(customers=sorted(subject.customers), emails=len(subject.emails))
    clear = _clear_values(lake, subject)
    # CRM: contacts of the subject's e-mails; the CRM company of a customer (a person)
    contacts = read_table(lake, "bronze/crm/contacts")
    contact_ids: set[int] = set()
    if contacts is not None:
        mine = contacts.filter(_rows_of(contacts, "bronze/crm/contacts", subject))
        contact_ids = {int(i) for i in mine["id"].to_pylist()}
    report.deleted["bronze/crm/contacts"] = _delete_rows(
        lake, "bronze/crm/contacts", "id", contact_ids
    )
    companies = _companies_of_customers(lake, subject)
    report.deleted["bronze/crm/companies"] = _delete_rows(
        lake, "bronze/crm/companies", "id", companies
    )
    report.deleted["bronze/legacy/quarantine"] = _delete_quarantined(
        lake, _quarantined_rows(lake, _needles(subject, clear, "cp273"))
    )
    until = erasable_on(lake, subject, today)
    report.erasable_on = until.isoformat() if until else None
    for entry in data_map_tables():
        # the subject's own fields: the customer master's, in the feed and in the journal
        # (not, say, the IBM i user who keyed a change)
        columns = [
            c
            for c in entry["personal"]
            if c in PERSONAL_MASTER_COLUMNS
            or (c == "before_image" and entry["location"].startswith("bronze/legacy_cdc/cust"))
        ]
        if entry["retention"] in RETENTION_YEARS and columns:
            n = _restrict_table(lake, entry["location"], columns, subject, key)
            if n:
                report.restricted[entry["location"]] = n
    if subject.customers:
        register(lake, sorted(subject.customers), today, until)
        report.landing_files_rewritten = rewrite_customer_records(lake, subject.customers, key)
    report.deleted = {k: v for k, v in report.deleted.items() if v}
    return report, subject


def _known_customers(lake: Lake) -> set[int]:
    known: set[int] = set()
    for location, column in (
        ("bronze/legacy/customers", "cm_cust_no"),
        ("bronze/legacy/open_items", "oi_cust_no"),
        ("bronze/legacy/payments", "pm_cust_no"),
    ):
        table = read_table(lake, location, [column])
        if table is None:
            continue
        known.update(int(v) for v in table[column].to_pylist() if v is not None)
    return known


def finish(lake: Lake, report: ErasureReport) -> None:
    """After the warehouse and gold were rebuilt: purge every copy that history keeps."""
    tables = lake.delta_tables()
    for table in tables:
        purge_history(table)
    report.delta_tables_purged = len(tables)
    report.dlt_packages_removed = drop_dlt_packages(lake)
    compact_duckdb(lake.warehouse)


def _clear_values(lake: Lake, subject: Subject) -> list[str]:
    """The subject's names, IBANs, … as held now (to find them in raw records)."""
    values: list[str] = []
    table = read_table(lake, "bronze/legacy/customers")
    if table is not None:
        for row in table.filter(_rows_of(table, "bronze/legacy/customers", subject)).to_pylist():
            values += [
                str(row[c]) for c in ("cm_name", "cm_iban", "cm_street", "cm_contact") if row[c]
            ]
    contacts = read_table(lake, "bronze/crm/contacts")
    if contacts is not None:
        for row in contacts.filter(_rows_of(contacts, "bronze/crm/contacts", subject)).to_pylist():
            values += [str(row[c]) for c in ("firstname", "lastname", "phone") if row.get(c)]
    return values


def _companies_of_customers(lake: Lake, subject: Subject) -> set[int]:
    """CRM companies matched to the subject's customer numbers (not a contact's employer)."""
    if not subject.customers or not lake.warehouse.exists():
        return set()
    from pipelines.models.warehouse import connect

    con = connect(lake.warehouse, read_only=True)
    try:
        rows = con.execute(
            "select crm_company_id from marts.customers "
            "where list_contains(?, customer_number) and crm_company_id is not null",
            [sorted(subject.customers)],
        ).fetchall()
    finally:
        con.close()
    return {int(r[0]) for r in rows}


def summary_json(report: ErasureReport) -> str:
    return json.dumps(vars(report), indent=1, default=str)
