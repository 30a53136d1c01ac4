"""The rows the API serves, copied from the warehouse into an in-memory DuckDB.

Serving from a copy keeps the warehouse file free for `ledgerbridge build` to rewrite while
the API runs (a reader would hold DuckDB's file lock); the copy is swapped for a fresh one
when the warehouse file changes. Point lookups on a million customers take well under a
millisecond without an index (DuckDB's zone maps on the sorted key).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb

FINANCIAL_STATUS = """
select customer_number, crm_company_id, customer_name, payment_status, open_item_count,
       open_amount_eur, overdue_amount_eur, max_days_past_due, credit_limit_eur,
       credit_utilisation_percent, last_payment_date
from wh.marts.customer_financial_status
"""
OPEN_ITEMS = """
select customer_number, document_number, document_type, document_date, due_date,
       currency_code, open_amount, open_amount_eur, days_past_due, ageing_bucket, dunning_level
from wh.marts.open_items
"""


class WarehouseSnapshot:
    """Thread-safe lookups on the latest copy of the serving marts."""

    def __init__(self, warehouse: Path, check_every_s: float = 5.0) -> None:
        self.warehouse = warehouse
        self.check_every_s = check_every_s
        self._lock = threading.Lock()
        self._local = threading.local()
        self._con, self._mtime = self._load()
        self._checked = time.monotonic()

    def _load(self) -> tuple[duckdb.DuckDBPyConnection, float]:
        if not self.warehouse.exists():
            raise FileNotFoundError(f"no warehouse at {self.warehouse}: run `ledgerbridge run`")
        mtime = self.warehouse.stat().st_mtime
        con = duckdb.connect(":memory:")
        con.execute(f"attach '{self.warehouse}' as wh (read_only)")
        con.execute(f"create table financial_status as {FINANCIAL_STATUS} order by crm_company_id")
        con.execute(f"create table open_items as {OPEN_ITEMS} order by customer_number, due_date")
        con.execute("detach wh")
        # ART indexes: point lookups stay flat as the customer count grows
        con.execute("create index status_by_company on financial_status (crm_company_id)")
        con.execute("create index status_by_customer on financial_status (customer_number)")
        con.execute("create index items_by_customer on open_items (customer_number)")
        # the copy is made: from here on the connection reaches no file and no setting
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        return con, mtime

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        now = time.monotonic()
        if now - self._checked > self.check_every_s:
            with self._lock:
                self._checked = now
                try:
                    changed = self.warehouse.stat().st_mtime != self._mtime
                except FileNotFoundError:
                    changed = False
                if changed:
                    self._con, self._mtime = self._load()
        local = self._local
        if getattr(local, "source", None) is not self._con:
            local.source, local.cursor = self._con, self._con.cursor()
        return local.cursor

    def financial_status(self, column: str, value: int) -> dict | None:
        if column not in ("crm_company_id", "customer_number"):
            raise ValueError(f"cannot look customers up by {column!r}")
        cur = self._cursor().execute(f"select * from financial_status where {column} = ?", [value])
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def open_items(self, customer_number: int) -> list[dict]:
        cur = self._cursor().execute(
            "select * exclude (customer_number) from open_items where customer_number = ?",
            [customer_number],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
