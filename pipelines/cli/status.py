"""`status`: where each source stands, for a person (a table) or a machine (JSON)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from pipelines import jobs
from pipelines.cli.base import command, with_session
from pipelines.jobs import Session
from pipelines.operations.progress import console


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.0f} days"


@command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_session
def status(session: Session, fmt: str) -> None:
    """Where each source stands: position, lag, what waits, the last error."""
    report = jobs.status(session)
    if fmt == "json":
        click.echo(json.dumps(report, indent=1, default=str))
        return
    s = report["sources"]
    t = Table("source", "position", "last change", "lag", "waiting", "last error")
    legacy = s["legacy"]
    t.add_row(
        "legacy files",
        legacy["position"] or "—",
        legacy["last_change_at"] or "—",
        _lag(legacy["lag_s"]),
        str(legacy["waiting"]),
        legacy["last_error"] or "",
    )
    for j in s["journals"]:
        waiting = f"gap {j['gap']}" if j["gap"] else str(j["waiting"])
        if j["refused_receivers"]:
            waiting += f", {len(j['refused_receivers'])} refused"
        position = "—" if j["position"] is None else f"{j['position']:,}"
        t.add_row(f"journal {j['journal']}", position, j["last_change_at"] or "—",
                  _lag(j["lag_s"]), waiting, "")  # fmt: skip
    crm = s["crm"]
    cursors = ", ".join(f"{k} {v}" for k, v in sorted(crm["position"].items())) or "—"
    t.add_row("CRM", cursors, crm["last_change_at"] or "—", _lag(crm["lag_s"]),
              f"{crm['webhook_events']} webhook events", crm["last_error"] or "")  # fmt: skip
    console.print(t)
    run = report["last_run"]
    if run:
        console.print(f"last run: {run['at']} ({run['outcome']})")
    sync = report["last_write_back"]
    if sync:
        d = sync["details"]
        console.print(
            f"last write-back: {sync['at']} ({sync['outcome']}): {d.get('updated', 0)} updated, "
            f"{d.get('failed', 0)} failed"
        )


COMMANDS = [status]
