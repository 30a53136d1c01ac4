"""`ledgerbridge retention`: what has passed its retention period goes.

- accounting records (invoices, credit notes, payments and their journal entries): a
  record of year Y is kept to the end of year Y + 8 (HGB § 257, AO § 147) and purged
  from 1 January of Y + 9;
- restricted customers (restriction register) whose erasable day has come: every record
  of theirs, in every table that has a customer key, and their register entry;
- operational data (quarantined raw records, CRM sync log): one year;
- CRM records archived in the CRM: the business relation has ended, nothing to keep.

Every purge deletes by key or date (never by a personal value), then the caller rebuilds
the warehouse and purges Delta history (erasure.finish), so nothing lingers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from pipelines.compliance import restrictions
from pipelines.compliance.dsar import CUSTOMER_KEYS
from pipelines.lake.paths import Lake

ACCOUNTING_DATES = {
    "bronze/legacy/open_items": "oi_doc_date",
    "bronze/legacy/payments": "pm_value_date",
    "bronze/legacy_cdc/open_items_changes": "journal_ts",
    "bronze/legacy_cdc/open_items_base": "oi_doc_date",
    "bronze/legacy_cdc/open_items": "oi_doc_date",
}
# landing extracts of accounting feeds: a file holds nothing newer than its extract date
ACCOUNTING_FEEDS = ("open_items", "payments")
# years a record is kept, from the end of the calendar year it belongs to (HGB § 257, AO § 147)
RETENTION_YEARS = {"accounting_8y": 8, "books_10y": 10}
OPERATIONAL = timedelta(days=365)


@dataclass
class RetentionReport:
    as_of: str
    purged: dict[str, int] = field(default_factory=dict)
    customers_erased: list[int] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)


def _utc(moment: datetime) -> str:
    """A UTC timestamp literal of the Delta predicate language (DataFusion SQL)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"arrow_cast('{text}', 'Timestamp(Microsecond, Some(\"UTC\"))')"


def _table(lake: Lake, location: str) -> DeltaTable | None:
    try:
        return DeltaTable(str(lake.data / location))
    except (TableNotFoundError, FileNotFoundError):
        return None


def _purge(lake: Lake, location: str, predicate: str, mask_of, dry_run: bool) -> int:  # noqa: ANN001
    """Rows deleted by `predicate` (a delete that matches nothing writes no commit); a dry
    run counts the rows `mask_of` (the same condition on the Arrow table) selects."""
    dt = _table(lake, location)
    if dt is None:
        return 0
    if not dry_run:
        return int(dt.delete(predicate).get("num_deleted_rows", 0))
    table = dt.to_pyarrow_table()
    return int(pc.sum(mask_of(table)).as_py() or 0) if table.num_rows else 0


def apply_retention(lake: Lake, as_of: date, dry_run: bool = False) -> RetentionReport:
    report = RetentionReport(as_of.isoformat())
    # accounting records: year <= as_of.year - 9 have passed their 8 years
    last_purged_year = as_of.year - RETENTION_YEARS["accounting_8y"] - 1
    cutoff = date(last_purged_year + 1, 1, 1)
    for location, column in ACCOUNTING_DATES.items():
        literal = (
            f"'{cutoff.isoformat()}'::date"
            if column != "journal_ts"
            else _utc(datetime.combine(cutoff, time()))
        )
        bound = (
            pa.scalar(cutoff)
            if column != "journal_ts"
            else pa.scalar(datetime.combine(cutoff, time()), pa.timestamp("us", "UTC"))
        )
        n = _purge(
            lake,
            location,
            f"{column} < {literal}",
            lambda t, c=column, b=bound: pc.fill_null(pc.less(t[c], b), False),
            dry_run,
        )
        if n:
            report.purged[location] = n
    _remove_expired_extracts(lake, cutoff, dry_run, report)
    # restricted customers whose day has come
    due = {
        int(e["customer"])
        for e in restrictions.entries(lake)
        if e.get("erasable_on") and date.fromisoformat(e["erasable_on"]) <= as_of
    }
    if due:
        listed = ", ".join(str(c) for c in sorted(due))
        keys = pa.array(sorted(due), pa.int64())
        for location, column in CUSTOMER_KEYS.items():
            n = _purge(
                lake,
                location,
                f"{column} IN ({listed})",
                lambda t, c=column: pc.fill_null(pc.is_in(t[c].cast(pa.int64()), keys), False),
                dry_run,
            )
            if n:
                report.purged[location] = report.purged.get(location, 0) + n
        report.customers_erased = sorted(due)
        if not dry_run:
            restrictions.remove(lake, due)
    # operational data: one year
    _purge_operational(lake, as_of, dry_run, report)
    _remove_old_logs(lake, as_of, dry_run, report)
    # CRM records archived in the CRM
    for location in ("bronze/crm/contacts", "bronze/crm/companies", "bronze/crm/deals"):
        n = _purge(
            lake,
            location,
            "archived = true",
            lambda t: (
                pc.fill_null(t["archived"], False)
                if "archived" in t.column_names
                else pa.array([False] * t.num_rows)
            ),
            dry_run,
        )
        if n:
            report.purged[location] = n
    return report


def _purge_operational(lake: Lake, as_of: date, dry_run: bool, report: RetentionReport) -> None:
    limit = datetime.combine(as_of, time()) - OPERATIONAL
    stamp = pa.scalar(limit, pa.timestamp("us"))
    log = _table(lake, "bronze/legacy/file_log")
    if log is not None:
        files = log.to_pyarrow_table(columns=["source_file", "processed_at"])
        processed = files["processed_at"]
        if pa.types.is_timestamp(processed.type) and processed.type.tz:
            stamp = pa.scalar(limit, pa.timestamp("us", processed.type.tz))
        old = files.filter(pc.fill_null(pc.less(processed, stamp), False))["source_file"]
        names = sorted(set(old.to_pylist()))
        if names:
            quoted = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
            n = _purge(
                lake,
                "bronze/legacy/quarantine",
                f"source_file IN ({quoted})",
                lambda t: pc.is_in(t["source_file"], pa.array(names)),
                dry_run,
            )
            if n:
                report.purged["bronze/legacy/quarantine"] = n
    sync = _table(lake, "ops/crm_sync_log")
    if sync is not None:
        table = sync.to_pyarrow_table()
        column = next((c for c in ("synced_at", "at", "run_at") if c in table.column_names), None)
        if column:
            tz = table[column].type.tz if pa.types.is_timestamp(table[column].type) else None
            bound = pa.scalar(limit, pa.timestamp("us", tz)) if tz else stamp
            literal = _utc(limit) if tz else f"'{limit.isoformat()}'::timestamp"
            n = _purge(
                lake,
                "ops/crm_sync_log",
                f"{column} < {literal}",
                lambda t, c=column, b=bound: pc.fill_null(pc.less(t[c], b), False),
                dry_run,
            )
            if n:
                report.purged["ops/crm_sync_log"] = n


def _remove_expired_extracts(
    lake: Lake, cutoff: date, dry_run: bool, report: RetentionReport
) -> None:
    """Delivered accounting extracts whose extract date is before the cutoff."""
    log = _table(lake, "bronze/legacy/file_log")
    if log is None:
        return
    for row in log.to_pyarrow_table(columns=["source_file", "feed", "extract_date"]).to_pylist():
        extracted = row["extract_date"]
        if row["feed"] not in ACCOUNTING_FEEDS or extracted is None or extracted >= cutoff:
            continue
        path = lake.legacy_landing / row["feed"] / row["source_file"]
        if path.exists():
            report.files_removed.append(str(path.relative_to(lake.data)))
            if not dry_run:
                path.unlink()


def _remove_old_logs(lake: Lake, as_of: date, dry_run: bool, report: RetentionReport) -> None:
    limit = (datetime.combine(as_of, time()) - OPERATIONAL).timestamp()
    for path in sorted(lake.logs.glob("*.jsonl")) if lake.logs.exists() else []:
        if path.stat().st_mtime < limit:
            report.files_removed.append(str(path.relative_to(lake.root)))
            if not dry_run:
                path.unlink()
