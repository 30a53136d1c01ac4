"""Publish the gold marts as Delta tables under <lake>/gold, for any Delta reader.

dbt-duckdb cannot write Delta, so the marts are streamed from DuckDB as Arrow batches and
written with deltalake (overwrite: gold is a snapshot of the current marts, with history kept
by Delta's versions).
"""

from __future__ import annotations

import pyarrow as pa
import structlog
from deltalake import write_deltalake

from pipelines.lake import Lake
from pipelines.warehouse import connect

log = structlog.get_logger(__name__)
GOLD_MARTS = (
    "dim_customer",
    "customer_matching",
    "fct_invoices",
    "fct_open_items",
    "fct_payments",
    "ar_aging",
    "customer_financial_status",
    "contract_reconciliation",
)


def publish_gold(lake: Lake) -> dict[str, int]:
    counts: dict[str, int] = {}
    con = connect(lake.warehouse, read_only=True)
    try:
        for mart in GOLD_MARTS:
            reader = con.execute(f"select * from marts.{mart}").fetch_record_batch(100_000)
            table = pa.Table.from_batches(list(reader), schema=reader.schema)
            write_deltalake(str(lake.gold / mart), table, mode="overwrite", schema_mode="overwrite")
            counts[mart] = table.num_rows
            log.info("gold_published", table=mart, rows=table.num_rows)
    finally:
        con.close()
    return counts
