"""Analysts see pseudonyms, finance sees clear values: the analyst database replaces every
column the dbt lineage traces to a personal source column with a keyed HMAC,
deterministically; it is read-only; the key is nowhere in the lake."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.compliance.pseudonyms import pseudonym, pseudonym_sql, use_key_in_sql
from pipelines.models.warehouse import connect
from tests.conftest import ROOT, ledgerbridge


@settings(max_examples=300, deadline=None)
@given(key=st.binary(min_size=1, max_size=100), value=st.one_of(st.none(), st.text()))
def test_duckdb_computes_the_same_pseudonym_as_python(key: bytes, value: str | None) -> None:
    """The analysts' copy is masked inside DuckDB (HMAC-SHA256 from sha256 on blobs); it
    must give exactly the pseudonym Python gives (DSAR, erasure and tests use that one)."""
    con = connect()
    try:
        use_key_in_sql(con, key)
        sql = f"select {pseudonym_sql('v')} from (select ?::varchar as v)"
        assert con.execute(sql, [value]).fetchone()[0] == pseudonym(key, value)
    finally:
        con.close()


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


def _personal_source_values(lake: Path) -> set[str]:
    """Every personal value the sources landed (the contracts' personal columns, as text)."""
    from deltalake import DeltaTable

    from pipelines.contracts import contracts

    values: set[str] = set()
    for contract in contracts().values():
        path = lake / contract.location
        if not path.exists():
            continue
        table = DeltaTable(str(path)).to_pyarrow_table()
        for column in contract.personal():
            if column in table.column_names:
                for v in table.column(column).to_pylist():
                    text = str(v).strip() if v is not None else ""
                    if len(text) >= 4:
                        values.add(text)
    return values


def test_no_personal_value_reaches_the_analysts_in_clear(e2e_lake: dict) -> None:
    """Data, not tags: no value of any personal source column — name, street, city,
    postcode, e-mail, IBAN, contact, VAT id, CRM names, journal users — is in any text column
    of any table analysts read. A new mart column that carries one fails here."""
    lake = e2e_lake["lake"]
    clear = _personal_source_values(lake)
    assert len(clear) > 1000
    con = connect(lake / "analyst.duckdb", read_only=True)
    try:
        con.execute("create temp table clear_values (v varchar)")
        con.executemany("insert into clear_values values (?)", [(v,) for v in sorted(clear)])
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' and table_catalog = 'analyst'"
        ).fetchall()
        assert len(columns) > 50
        leaks = []
        for schema, table, column in columns:
            hit = con.execute(
                f'select any_value("{column}") from {schema}.{table} '
                f'where trim("{column}") in (select v from clear_values)'
            ).fetchone()[0]
            if hit is not None:
                leaks.append(f"{schema}.{table}.{column} ({hit!r})")
        assert not leaks, "personal values in clear for analysts: " + ", ".join(leaks)
    finally:
        con.close()


def test_masking_follows_the_lineage_and_the_docs_agree(e2e_lake: dict) -> None:
    """The marts the issue found in clear are masked because the lineage says so; the YAML's
    `category: personal` tags (documentation) say exactly what the lineage found."""
    import yaml

    from pipelines.compliance.lineage import personal_columns

    lake = e2e_lake["lake"]
    con = connect()
    try:
        con.execute(f"attach '{lake / 'warehouse.duckdb'}' as wh (read_only)")
        found = personal_columns(con, lake / "state" / "dbt" / "target")
    finally:
        con.close()
    assert not found.unparsed
    assert found.of("marts", "customer_financial_status") == ["customer_name"]
    assert found.of("marts", "revenue_forecast") == ["customer_name"]
    assert {"customer_name", "city", "changed_by_user"} <= set(
        found.of("marts", "customer_history")
    )
    tagged: dict[tuple[str, str], list[str]] = {}
    root = ROOT / "models"
    for spec in root.rglob("*.yml"):
        layer = spec.relative_to(root).parts[0]
        for model in yaml.safe_load(spec.read_text()).get("models", []):
            names = [
                c["name"]
                for c in model.get("columns", [])
                if (c.get("meta") or {}).get("category") == "personal"
            ]
            if names:
                tagged[(layer, model["name"])] = sorted(names)
    lineage = {key: sorted(cols) for key, cols in found.columns.items()}
    assert tagged == lineage
    masked = _rows(
        lake / "analyst.duckdb",
        "select customer_name from marts.customer_financial_status "
        "union all select customer_name from marts.revenue_forecast "
        "union all select city from marts.customer_history",
    )
    assert masked and all(v is None or v.startswith("p_") for (v,) in masked)


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
