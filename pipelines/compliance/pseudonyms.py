"""What analysts see: the warehouse with every personal column replaced by a keyed pseudonym.

`<lake>/analyst.duckdb` holds the staging and mart tables of the warehouse; every column
the dbt lineage traces to a personal source column (compliance/lineage.py) holds `p_` +
the first 20 hex digits of HMAC-SHA256(key, value) instead of the value. Equal values give
equal pseudonyms, so analysts can still count and join; without the key nobody can go
back. The clear values stay in the warehouse (the restricted, finance-role database). The
key comes from configuration (`LEDGERBRIDGE_PSEUDONYM_KEY`), else from a key file outside
the lake (`~/.config/ledgerbridge/pseudonym.key`, created once, mode 0600); it never
enters the lake or the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import structlog
from duckdb import sqltypes

from pipelines.lake import Lake

log = structlog.get_logger(__name__)
KEY_FILE = Path.home() / ".config" / "ledgerbridge" / "pseudonym.key"


def pseudonym_key(configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    if not KEY_FILE.exists():
        KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return KEY_FILE.read_text().strip().encode()


def pseudonym(key: bytes, value: str | None) -> str | None:
    if value is None:
        return None
    return "p_" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


def build_analyst_database(
    lake: Lake, key: bytes, rebuilt: set[tuple[str, str]] | None = None
) -> dict[str, int]:
    """Write `<lake>/analyst.duckdb` from the warehouse; returns masked columns per table.

    `rebuilt` is given after a journal increment: the tables that build rebuilt. The last
    analysts' copy is then carried forward — the row-by-row incremental tables get their
    touched keys deleted and inserted again, the rebuilt tables are copied whole, the rest
    stay — instead of copying the whole warehouse again. Either way the new copy is written
    beside the old one and moved into place, so a query running on the old one finishes.
    """
    from pipelines.compliance.lineage import personal_columns
    from pipelines.increment import INCREMENTAL_TABLES, touched_keys_sql
    from pipelines.warehouse import connect

    target = lake.root / "analyst.duckdb"
    tmp = target.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    carry = rebuilt is not None and target.exists()
    if carry:
        shutil.copyfile(target, tmp)

    def mask(values: pa.Array) -> pa.Array:
        # one HMAC per distinct value: names and cities repeat across millions of rows
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        encoded = pc.dictionary_encode(values)
        uniques = [pseudonym(key, v) for v in encoded.dictionary.to_pylist()]
        return pc.take(pa.array(uniques, pa.string()), encoded.indices)

    con = connect(tmp)
    report: dict[str, int] = {}
    try:
        con.create_function(
            "lb_pseudonym", mask, [sqltypes.VARCHAR], sqltypes.VARCHAR, type="arrow"
        )
        con.execute(f"attach '{lake.warehouse}' as wh (read_only)")
        masked = personal_columns(con, lake.state / "dbt" / "target")
        for table, why in masked.unparsed.items():
            log.warning("lineage_unknown_table_masked_whole", table=".".join(table), why=why)
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'wh' and table_type = 'BASE TABLE' "
            "and table_schema in ('staging', 'marts', 'reference')"
        ).fetchall()
        present = {
            (s, t)
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        }
        for schema, name in tables:
            cols = masked.of(schema, name)
            replace = ", ".join(f'lb_pseudonym("{c}"::varchar) as "{c}"' for c in cols)
            select = f"* replace ({replace})" if cols else "*"
            if cols:
                report[f"{schema}.{name}"] = len(cols)
            table = (schema, name)
            if carry and table in present and table in INCREMENTAL_TABLES:
                column, kinds = INCREMENTAL_TABLES[table]
                touched = f'cast("{column}" as varchar) in ({touched_keys_sql(kinds, "wh")})'
                con.execute(f"delete from {schema}.{name} where {touched}")
                con.execute(
                    f"insert into {schema}.{name} select {select} "
                    f"from wh.{schema}.{name} where {touched}"
                )
                continue
            if carry and table in present and table not in rebuilt:
                continue
            con.execute(f"create schema if not exists {schema}")
            con.execute(
                f"create or replace table {schema}.{name} as "
                f"select {select} from wh.{schema}.{name}"
            )
        con.execute("detach wh")
    finally:
        con.close()
    tmp.replace(target)
    return report
