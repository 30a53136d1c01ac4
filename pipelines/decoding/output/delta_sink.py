"""Decoded splits straight into a Delta table: each worker writes its own Parquet data file,
the parent commits them all in one transaction.

Parquet encoding and compression cost as much as decoding, so they belong in the workers;
the commit is the only serial step. The data files carry Delta statistics (row count, null
counts, min/max of numbers and dates) so readers can skip files as with any delta-rs write.
A reader sees the whole file's rows or none of them: uncommitted data files are invisible.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

# decimals beyond this many digits do not survive a JSON number read as a double
_EXACT_JSON_DIGITS = 15


def _stat(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def column_stats(table: pa.Table) -> str:
    """Delta's per-file statistics JSON for `table`."""
    mins: dict[str, object] = {}
    maxs: dict[str, object] = {}
    nulls: dict[str, int] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        nulls[name] = column.null_count
        kind = column.type
        skippable = (
            pa.types.is_integer(kind)
            or pa.types.is_date(kind)
            or (pa.types.is_decimal(kind) and kind.precision <= _EXACT_JSON_DIGITS)
        )
        if not skippable or column.null_count == len(column):
            continue
        bounds = pc.min_max(column).as_py()
        mins[name], maxs[name] = _stat(bounds["min"]), _stat(bounds["max"])
    return json.dumps(
        {"numRecords": table.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
    )


def write_data_file(table: pa.Table, table_uri: str, first_record: int) -> AddAction:
    """One Parquet data file under `table_uri` (any fsspec location), not yet committed."""
    name = f"part-{first_record:012d}-{uuid.uuid4()}.snappy.parquet"
    fs, root = fsspec.core.url_to_fs(table_uri)
    fs.makedirs(root, exist_ok=True)
    with fs.open(f"{root.rstrip('/')}/{name}", "wb") as fh:
        pq.write_table(table, fh, compression="snappy")
        size = fh.tell()
    return AddAction(name, size, {}, int(time.time() * 1000), True, column_stats(table))


def commit(table_uri: str, schema: pa.Schema, actions: list[AddAction], mode: str) -> None:
    """One Delta commit adding `actions` (mode "append" or "overwrite")."""
    from deltalake import DeltaTable, Schema
    from deltalake.exceptions import TableNotFoundError
    from deltalake.transaction import create_table_with_add_actions

    try:
        table = DeltaTable(table_uri)
    except TableNotFoundError:
        create_table_with_add_actions(table_uri, Schema.from_arrow(schema), actions, mode="error")
        return
    table.create_write_transaction(actions, mode=mode, schema=schema)
