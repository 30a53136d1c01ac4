"""The analyst's SQL runs in a sandbox: one read-only SELECT against one database file.

`ledgerbridge sql` hands a person's text to DuckDB, and DuckDB can do far more than read the
database it was opened on: write files (`COPY … TO`), read any file the process can
(`read_csv`, `read_text`, `read_blob`, `glob`, `delta_scan`, `parquet_scan`), attach other
databases (the clear warehouse from the analysts' masked copy), load extensions and change
settings. The connection is therefore opened read-only with external access off and its
configuration locked (DuckDB's `enable_external_access`, `lock_configuration`): nothing
outside the one file is reachable, and nothing can turn that back on. Before running, the
text must parse as exactly one SELECT (or EXPLAIN of one); anything else is refused with the
statement type named, before DuckDB executes a thing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

# statement types a query may be: reading, or explaining a read
ALLOWED = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)


class SqlRefused(ValueError):
    """The query is not one read-only SELECT, or it reached for something outside the
    database it may read."""


def open_sandboxed(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to `path` that can reach nothing else."""
    if not Path(path).exists():
        raise FileNotFoundError(f"no database at {path}: run `ledgerbridge run` first")
    return duckdb.connect(
        str(path),
        read_only=True,
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "lock_configuration": True,
        },
    )


def check_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Refuse anything but exactly one SELECT (or EXPLAIN)."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise SqlRefused(f"query does not parse: {_first_line(exc)}") from exc
    if len(statements) != 1:
        raise SqlRefused(f"one statement at a time: the query holds {len(statements)} statements")
    kind = statements[0].type
    if kind not in ALLOWED:
        raise SqlRefused(
            f"read-only: {kind.name} statements are refused (only SELECT and EXPLAIN run here)"
        )


def run_query(path: Path, query: str) -> tuple[list[str], list[tuple]]:
    """Columns and rows of one read-only query against the database at `path`."""
    con = open_sandboxed(path)
    try:
        check_query(con, query)
        try:
            cur = con.execute(query)
        except duckdb.PermissionException as exc:
            raise SqlRefused(
                f"refused: the query reaches outside the database it may read ({_first_line(exc)})"
            ) from exc
        except duckdb.CatalogException as exc:
            if "extension" not in str(exc):
                raise
            raise SqlRefused(
                "refused: extensions are not loaded here (a query reads only the tables of "
                f"its database; {_first_line(exc)})"
            ) from exc
        if cur.description is None:
            return [], []
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300]
