"""The tables a journal increment changes row by row, and the keys it touched.

A journal increment (pipelines/build.py) rebuilds, in the incremental dbt models, only the
customers and documents the journal changes touch; the keys are in the warehouse's
`intermediate.int_journal_increment_keys` and `…_moved_matches`
(dbt_project/macros/journal_increment.sql). Gold (publish.py) and the analysts' copy
(compliance/pseudonyms.py) follow the same way: delete the touched keys, insert their rows
again. This mapping names, per table, its key and the touched-key kinds — the same the
models' pre-hooks use (a test holds them equal).
"""

from __future__ import annotations

# (schema, table) → (key column, touched-key kinds)
INCREMENTAL_TABLES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("staging", "stg_legacy__customers"): ("customer_number", ("customer",)),
    ("staging", "stg_legacy__open_items"): ("document_number", ("document",)),
    ("intermediate", "int_ar_documents_enriched"): ("document_number", ("document",)),
    ("marts", "dim_customer"): ("customer_number", ("customer", "moved_match")),
    ("marts", "dim_customer_history"): ("customer_number", ("customer",)),
    ("marts", "customer_financial_status"): (
        "customer_number",
        ("customer_status", "moved_match"),
    ),
    ("marts", "fct_open_items"): ("document_number", ("document",)),
    ("marts", "fct_invoices"): ("document_number", ("document",)),
}


def touched_keys_sql(kinds: tuple[str, ...], catalog: str = "") -> str:
    """A query of the touched keys (as text) of these kinds, in the warehouse (or in the
    attached catalog `catalog`)."""
    prefix = f"{catalog}." if catalog else ""
    return " union ".join(
        f"select key_value from {prefix}intermediate.int_journal_increment_moved_matches"
        if kind == "moved_match"
        else f"select key_value from {prefix}intermediate.int_journal_increment_keys "
        f"where key_kind = '{kind}'"
        for kind in kinds
    )
