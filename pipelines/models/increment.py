"""The tables a journal increment changes row by row, and the keys it touched.

A journal increment (pipelines/models/build.py) rebuilds, in the incremental dbt models, only the
customers and documents the journal changes touch; the keys are in the warehouse's
`intermediate.int_journal_increment_keys` and `…_moved_matches`
(dbt_project/macros/journal_increment.sql). Gold (publish.py) and the analysts' copy
(compliance/pseudonyms.py) follow the same way: delete the touched keys, insert their rows
again. This mapping names, per table, how its rows are matched to the touched keys and the
key kinds — the same each model declares in meta.journal_increment (a test holds them
equal).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncrementalTable:
    touched_by: str  # SQL expression of a row's touched key (compared as text)
    kinds: tuple[str, ...]  # the touched-key kinds that select its rows
    key: str  # the column that identifies a row (gold's merge key)


_FORECAST_KEY = "coalesce(cast(customer_number as varchar), 'company:' || crm_company_id)"

INCREMENTAL_TABLES: dict[tuple[str, str], IncrementalTable] = {
    ("staging", "stg_legacy__customers"): IncrementalTable(
        "customer_number", ("customer",), "customer_number"
    ),
    ("staging", "stg_legacy__open_items"): IncrementalTable(
        "document_number", ("document",), "document_number"
    ),
    ("intermediate", "int_ar_documents_enriched"): IncrementalTable(
        "document_number", ("document",), "document_number"
    ),
    ("marts", "customers"): IncrementalTable(
        "customer_number", ("customer", "moved_match"), "customer_number"
    ),
    ("marts", "customer_history"): IncrementalTable(
        "customer_number", ("customer",), "customer_version_key"
    ),
    ("marts", "customer_financial_status"): IncrementalTable(
        "customer_number", ("customer_status", "moved_match"), "customer_number"
    ),
    ("marts", "open_items"): IncrementalTable("document_number", ("document",), "document_number"),
    ("marts", "invoices"): IncrementalTable("document_number", ("document",), "document_number"),
    ("marts", "revenue_forecast"): IncrementalTable(
        _FORECAST_KEY, ("customer_revenue", "moved_match", "moved_company"), "forecast_key"
    ),
}


def touched_keys_sql(kinds: tuple[str, ...], catalog: str = "") -> str:
    """A query of the touched keys (as text) of these kinds, in the warehouse (or in the
    attached catalog `catalog`)."""
    prefix = f"{catalog}." if catalog else ""
    moved = {"moved_match": "customer", "moved_company": "company"}
    return " union ".join(
        f"select key_value from {prefix}intermediate.int_journal_increment_moved_matches "
        f"where key_kind = '{moved[kind]}'"
        if kind in moved
        else f"select key_value from {prefix}intermediate.int_journal_increment_keys "
        f"where key_kind = '{kind}'"
        for kind in kinds
    )


def touched_filter(table: IncrementalTable, catalog: str = "", alias: str = "") -> str:
    """A WHERE condition selecting the table's touched rows."""
    expression = table.touched_by
    if alias:  # qualify the columns of a plain key; expressions name theirs unqualified
        expression = f"{alias}.{expression}" if expression.isidentifier() else expression
    return f"cast({expression} as varchar) in ({touched_keys_sql(table.kinds, catalog)})"
