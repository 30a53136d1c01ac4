"""Publish the gold marts as Delta tables under <lake>/gold, for any Delta reader.

dbt-duckdb cannot write Delta, so the marts are streamed from DuckDB as Arrow batches and
written with deltalake (overwrite: gold is a snapshot of the current marts, with history kept
by Delta's versions).
"""

from __future__ import annotations

from collections.abc import Iterator

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
    "revenue_forecast",
    "revenue_forecast_monthly",
)


def _counting(reader: pa.RecordBatchReader, counter: list[int]) -> pa.RecordBatchReader:
    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            counter[0] += batch.num_rows
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def publish_gold(lake: Lake) -> dict[str, int]:
    """Stream each mart batch by batch into its gold Delta table (memory stays flat)."""
    counts: dict[str, int] = {}
    con = connect(lake.warehouse, read_only=True)
    try:
        for mart in GOLD_MARTS:
            rows = [0]
            reader = con.execute(f"select * from marts.{mart}").fetch_record_batch(100_000)
            write_deltalake(
                str(lake.gold / mart),
                _counting(reader, rows),
                mode="overwrite",
                schema_mode="overwrite",
            )
            counts[mart] = rows[0]
            log.info("gold_published", table=mart, rows=rows[0])
    finally:
        con.close()
    return counts
