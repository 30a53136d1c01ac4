"""Publish the gold marts as Delta tables under <lake>/gold, for any Delta reader.

dbt-duckdb cannot write Delta, so the marts are streamed from DuckDB as Arrow batches and
written with deltalake (overwrite: gold is a snapshot of the current marts, with history kept
by Delta's versions). After a journal increment (pipelines/models/build.py) the marts keyed by
customer or document are merged instead: only the touched keys are upserted or deleted, the
marts the journals cannot change are left alone, and the small aggregates are rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import structlog
from deltalake import write_deltalake

from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake
from pipelines.models.increment import INCREMENTAL_TABLES, touched_filter, touched_keys_sql
from pipelines.models.warehouse import connect

if TYPE_CHECKING:
    import duckdb

log = structlog.get_logger(__name__)
GOLD_MARTS = (
    "customers",
    "customer_matching",
    "invoices",
    "open_items",
    "payments",
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


def publish_gold(lake: Lake, rebuilt: set[tuple[str, str]] | None = None) -> dict[str, int]:
    """Stream each mart batch by batch into its gold Delta table (memory stays flat).
    `rebuilt` is given after a journal increment (the tables that build rebuilt): the marts
    it did not rebuild are left alone and the keyed marts get their touched keys merged
    instead. Returns rows written per mart."""
    increment = rebuilt is not None
    if not increment:
        _remove_retired(lake)
    counts: dict[str, int] = {}
    con = connect(lake.warehouse, read_only=True)
    try:
        for mart in GOLD_MARTS:
            target = str(lake.gold_table(mart))
            exists = (lake.gold_table(mart) / "_delta_log").exists()
            if increment and exists and ("marts", mart) not in rebuilt:
                continue
            if increment and exists and ("marts", mart) in INCREMENTAL_TABLES:
                counts[mart] = _merge_touched(con, mart, target)
                log.info("gold_merged", table=mart, rows=counts[mart])
                continue
            rows = [0]
            reader = con.execute(f"select * from marts.{mart}").fetch_record_batch(100_000)
            fence()
            write_deltalake(
                target,
                _counting(reader, rows),
                mode="overwrite",
                schema_mode="overwrite",
            )
            counts[mart] = rows[0]
            log.info("gold_published", table=mart, rows=rows[0])
    finally:
        con.close()
    return counts


def _remove_retired(lake: Lake) -> None:
    """Gold tables no mart publishes any more (a mart renamed or dropped) are removed: a
    stale copy would keep data no model maintains — nor erases."""
    from pipelines.lake.storage import remove_tree

    base = str(lake.gold).rstrip("/")
    for table in lake.delta_tables():
        if not table.startswith(base + "/"):
            continue
        name = table[len(base) + 1 :]
        if "/" not in name and name not in GOLD_MARTS:
            fence()
            remove_tree(lake.gold / name)
            log.info("gold_retired", table=name)


def _type_of(con: duckdb.DuckDBPyConnection, mart: str, column: str) -> str:
    return con.execute(
        "select data_type from information_schema.columns "
        "where table_schema = 'marts' and table_name = ? and column_name = ?",
        [mart, column],
    ).fetchone()[0]


def _merge_touched(con: duckdb.DuckDBPyConnection, mart: str, target: str) -> int:
    """Upsert the touched keys' rows of one mart into gold; delete those the mart no
    longer holds. Returns the rows merged."""
    from deltalake import DeltaTable

    table = INCREMENTAL_TABLES[("marts", mart)]
    key = table.key
    touched = touched_filter(table)
    dt = DeltaTable(target)
    schema = pa.schema(dt.schema().to_arrow())
    if table.touched_by == key:  # a touched key the mart no longer holds: delete it
        vanished = f"""
            select cast(t.key_value as {_type_of(con, mart, key)}) as {key}
            from ({touched_keys_sql(table.kinds)}) as t
            where t.key_value not in (select cast(p.{key} as varchar) from present as p)"""
    else:  # rows keyed otherwise (the forecast): gold's rows of the touched keys now gone
        needed = [c for c in schema.names if re.search(rf"\b{c}\b", table.touched_by)]
        con.register("gold_rows", dt.to_pyarrow_table(columns=sorted({key, *needed})))
        vanished = f"""
            select g.{key} from gold_rows as g
            where {touched} and g.{key} not in (select p.{key} from present as p)"""
    source = con.execute(
        f"""
        with present as (
            select *, false as _lb_delete from marts.{mart} where {touched}
        )
        select * from present
        union all by name
        select *, true as _lb_delete from ({vanished})
        """
    ).fetch_arrow_table()
    if source.num_rows == 0:
        return 0
    source = source.select([*schema.names, "_lb_delete"]).cast(
        pa.schema([*schema, pa.field("_lb_delete", pa.bool_())])
    )
    columns = {c: f"s.{c}" for c in schema.names}
    fence()
    (
        dt.merge(source, predicate=f"t.{key} = s.{key}", source_alias="s", target_alias="t")
        .when_matched_delete(predicate="s._lb_delete")
        .when_matched_update(updates=columns)
        .when_not_matched_insert(updates=columns, predicate="not s._lb_delete")
        .execute()
    )
    return source.num_rows


def publish_read_copy(lake: Lake) -> None:
    """Copy the warehouse (checkpointed: its writer has closed it) to a temporary file and
    rename it over the published copy: readers open either the old copy or the new one,
    whole, and never the file a build is writing."""
    import os
    import shutil

    if not lake.warehouse.exists():
        return
    target = lake.published_warehouse
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(lake.warehouse, tmp)
    os.replace(tmp, target)
    log.info("read_copy_published", path=str(target))
