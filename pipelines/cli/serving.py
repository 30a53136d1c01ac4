"""Serving: `serve` (the curated-view API), `api-key`, and `sql` for analysts."""

from __future__ import annotations

import json
from decimal import Decimal

import click
from rich.console import Console
from rich.table import Table

from pipelines import jobs
from pipelines.cli.base import command, group, with_session
from pipelines.jobs import Session
from pipelines.operations.progress import console


@command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@with_session
def serve(session: Session, host: str, port: int) -> None:
    """Serve the read-only curated-view API (OpenAPI schema at /openapi.json, docs at /docs)."""
    import uvicorn

    app = jobs.serving_app(session)
    if not any(not k.revoked_at for k in jobs.api_keys(session).list()):
        console.print("no API keys yet: create one with `ledgerbridge api-key create NAME`")
    console.print(f"serving http://{host}:{port} (OpenAPI: /openapi.json)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@group("api-key")
def api_key() -> None:
    """API keys of the curated-view API (stored hashed in <lake>/ops)."""


@api_key.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=("financial-status:read", "open-items:read"),
    show_default=True,
    help="financial-status:read, open-items:read (repeat for several).",
)
@with_session
def api_key_create(session: Session, name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    click.echo(jobs.create_api_key(session, name, list(scopes)))


@api_key.command("revoke")
@click.argument("name")
@with_session
def api_key_revoke(session: Session, name: str) -> None:
    """Revoke the active key called NAME."""
    jobs.revoke_api_key(session, name)
    console.print(f"revoked {name}")


@api_key.command("list")
@with_session
def api_key_list(session: Session) -> None:
    """The keys: name, scopes, created, revoked (never the secret)."""
    keys = jobs.api_keys(session).list()
    if not keys:
        console.print("no API keys yet: create one with `ledgerbridge api-key create NAME`")
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        click.echo(f"{k.name}\t{','.join(k.scopes)}\tcreated {k.created_at}\t{state}")


@command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option(
    "--role",
    type=click.Choice(["analyst", "finance"]),
    default="analyst",
    show_default=True,
    help="analyst: personal columns pseudonymised; finance: the restricted warehouse.",
)
@with_session
def sql(session: Session, query: str, fmt: str, role: str) -> None:
    """Run one read-only SELECT (analysts see pseudonyms, finance the clear values). The
    query can read nothing but that database: no files, no other database, no settings."""
    cols, rows = jobs.sql_query(session, query, role)
    if not cols:
        return
    out = click.get_text_stream("stdout")
    if fmt == "json":
        records = [dict(zip(cols, r, strict=True)) for r in rows]
        out.write(json.dumps(records, default=str, ensure_ascii=False, indent=1) + "\n")
    elif fmt == "csv":
        import csv

        w = csv.writer(out)
        w.writerow(cols)
        w.writerows(rows)
    else:
        Console().print(result_table(cols, rows))


def result_table(cols: list[str], rows: list[tuple]) -> Table:
    """A query result for a terminal: numbers and dates are never cut (their columns keep
    their full width, right-aligned); text columns wrap when the terminal is narrow."""
    t = Table()
    for i, name in enumerate(cols):
        values = [r[i] for r in rows if r[i] is not None]
        fixed = bool(values) and all(not isinstance(v, str | bytes) for v in values)
        if fixed:
            width = max([len(name), *(len(str(v)) for v in values)])
            numeric = all(isinstance(v, int | float | Decimal) for v in values)
            t.add_column(
                name,
                justify="right" if numeric else "left",
                no_wrap=True,
                min_width=width,
                overflow="ignore",
            )
        else:
            t.add_column(name, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t


COMMANDS = [serve, api_key, sql]
