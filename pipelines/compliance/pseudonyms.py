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
import time
from pathlib import Path

import duckdb
import structlog

from pipelines.lake.paths import Lake

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


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)


def pseudonym(key: bytes, value: str | None) -> str | None:
    if value is None:
        return None
    return "p_" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:20]


def _pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer keys (RFC 2104): the key, hashed if longer than SHA-256's
    64-byte block, zero-padded to it, XORed with 0x36 and 0x5c."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def use_key_in_sql(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Give this DuckDB connection the HMAC pads as session variables (bound as parameters:
    they never appear in SQL text, error messages or the database file)."""
    inner, outer = _pads(key)
    con.execute("set variable lb_hmac_inner = ?::blob", [inner])
    con.execute("set variable lb_hmac_outer = ?::blob", [outer])


def pseudonym_sql(column: str) -> str:
    """The pseudonym of a column, computed by DuckDB: HMAC-SHA256 from its sha256 on blobs,
    equal to `pseudonym()` value for value (a property test holds them equal) — at
    millions of rows a second instead of a Python call per value."""
    inner = "sha256(getvariable('lb_hmac_inner') || encode(cast({c} as varchar)))"
    outer = "sha256(getvariable('lb_hmac_outer') || unhex({i}))"
    return "'p_' || left(" + outer.format(i=inner.format(c=column)) + ", 20)"


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
    from pipelines.models.increment import INCREMENTAL_TABLES, touched_filter
    from pipelines.models.warehouse import connect

    target = lake.analyst_database
    tmp = target.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    begun = time.monotonic()
    timings: dict[str, float] = {}
    carry = rebuilt is not None and target.exists()
    if carry:
        shutil.copyfile(target, tmp)

    con = connect(tmp)
    report: dict[str, int] = {}
    try:
        use_key_in_sql(con, key)
        con.execute(f"attach '{lake.warehouse}' as wh (read_only)")
        masked = personal_columns(con, lake.dbt_target)
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
            started = time.monotonic()
            cols = masked.of(schema, name)
            quoted = [f'"{c}"' for c in cols]
            replace = ", ".join(f"{pseudonym_sql(q)} as {q}" for q in quoted)
            select = f"* replace ({replace})" if cols else "*"
            if cols:
                report[f"{schema}.{name}"] = len(cols)
            table = (schema, name)
            if carry and table in present and table in INCREMENTAL_TABLES:
                touched = touched_filter(INCREMENTAL_TABLES[table], "wh")
                con.execute(f"delete from {schema}.{name} where {touched}")
                con.execute(
                    f"insert into {schema}.{name} select {select} "
                    f"from wh.{schema}.{name} where {touched}"
                )
                timings[f"merged {schema}.{name}"] = _since(started)
                continue
            if carry and table in present and table not in rebuilt:
                continue
            con.execute(f"create schema if not exists {schema}")
            con.execute(
                f"create or replace table {schema}.{name} as "
                f"select {select} from wh.{schema}.{name}"
            )
            timings[f"copied {schema}.{name}"] = _since(started)
        con.execute("detach wh")
    finally:
        con.close()
    tmp.replace(target)
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:4]
    log.info(
        "analyst_database_written",
        carried_forward=carry,
        seconds=_since(begun),
        tables_written=len(timings),
        slowest=", ".join(f"{k} {v} s" for k, v in slowest),
    )
    return report
