"""`sync-crm`: the finance status of matched customers written to the CRM."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from pipelines import jobs
from pipelines.cli.base import command, with_session, writes_lake
from pipelines.jobs import Session
from pipelines.operations.progress import console, count_bar

SHOWN_CHANGES = 50


@command("sync-crm")
@click.option("--dry-run", is_flag=True, help="Print the changes it would send; send nothing.")
@with_session
@writes_lake
def sync_crm(session: Session, dry_run: bool) -> None:
    """Write the finance status of matched customers to the CRM (changed values only)."""
    with count_bar() as bar:
        task = bar.add_task("CRM write-back", total=None)
        summary, changes = jobs.sync_crm(session, dry_run, lambda n: bar.advance(task, n))
    out = Console(width=max(110, console.width))
    if dry_run:
        t = Table("CRM company", "customer", "property", "now in CRM", "would send")
        for change in changes[:SHOWN_CHANGES]:
            for prop, value in change.after.items():
                t.add_row(
                    change.company_id,
                    str(change.customer_number),
                    prop,
                    change.before[prop] or "—",
                    value or "—",
                )
        out.print(t)
        if len(changes) > SHOWN_CHANGES:
            out.print(f"… and {len(changes) - SHOWN_CHANGES:,} more companies")
    verb = "would update" if dry_run else "updated"
    out.print(
        f"CRM write-back{' (dry run)' if dry_run else ''}: {summary.matched_companies:,} matched "
        f"companies — {verb} {summary.changed if dry_run else summary.updated:,}, unchanged "
        f"{summary.unchanged:,}, failed {summary.failed:,}"
        + (
            f"; created properties: {', '.join(summary.properties_created)}"
            if summary.properties_created
            else ""
        )
    )
    for reason in summary.errors:
        out.print(f"  refused: {reason}")
    if summary.failed:
        raise SystemExit(1)


COMMANDS = [sync_crm]
