"""Analysts see pseudonyms, finance sees clear values: the analyst database replaces every
column tagged personal with a keyed HMAC, deterministically; it is read-only; the key is
nowhere in the lake."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipelines.compliance.pseudonyms import pseudonym
from pipelines.warehouse import connect
from tests.conftest import ledgerbridge


def _rows(db: Path, sql: str) -> list[tuple]:
    con = connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_personal_columns_are_pseudonymised_for_analysts(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    key = os.environ["LEDGERBRIDGE_PSEUDONYM_KEY"].encode()
    clear = _rows(
        lake / "warehouse.duckdb",
        "select customer_number, email, iban, contact_name from staging.stg_legacy__customers "
        "where email is not null order by 1 limit 50",
    )
    masked = dict(
        (r[0], r[1:])
        for r in _rows(
            lake / "analyst.duckdb",
            "select customer_number, email, iban, contact_name from staging.stg_legacy__customers",
        )
    )
    for number, email, iban, contact in clear:
        assert masked[number] == tuple(pseudonym(key, v) for v in (email, iban, contact))
        assert masked[number][0].startswith("p_") and masked[number][0] != email
    crm = _rows(
        lake / "analyst.duckdb",
        "select email, first_name, last_name, phone from staging.stg_crm__contacts "
        "where email is not null limit 20",
    )
    assert crm and all(v is None or v.startswith("p_") for row in crm for v in row)
    # no clear e-mail of the warehouse is anywhere in the analyst database
    emails = {r[1] for r in clear}
    con = connect(lake / "analyst.duckdb", read_only=True)
    try:
        text_columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, column in text_columns:
            hits = con.execute(
                f'select count(*) from {schema}.{table} where "{column}" in '
                f"(select unnest(?::varchar[]))",
                [sorted(emails)],
            ).fetchone()[0]
            assert hits == 0, f"{schema}.{table}.{column}"
    finally:
        con.close()
    # other key, other pseudonyms
    assert pseudonym(b"another-key", clear[0][1]) != masked[clear[0][0]][0]


def test_roles_choose_the_database_and_analysts_cannot_write(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    query = "select email from staging.stg_legacy__customers where email is not null limit 1"
    analyst = json.loads(ledgerbridge(lake, "sql", query, "--format", "json").stdout)
    finance = json.loads(
        ledgerbridge(lake, "sql", query, "--format", "json", "--role", "finance").stdout
    )
    assert analyst[0]["email"].startswith("p_") and "@" in finance[0]["email"]
    refused = ledgerbridge(lake, "sql", "create table marts.x (a int)", check=False)
    assert refused.returncode != 0 and "read-only" in refused.stderr.lower()


def test_the_key_is_nowhere_in_the_lake(e2e_lake: dict) -> None:
    key = os.environ["LEDGERBRIDGE_PSEUDONYM_KEY"].encode()
    for path in Path(e2e_lake["lake"]).rglob("*"):
        if path.is_file():
            assert key not in path.read_bytes(), path
