"""The flow's steps — `extract`, `build`, `publish` — and `run`, the main job doing all."""

from __future__ import annotations

import click
import structlog
from rich.console import Console

from pipelines import jobs
from pipelines.cli.base import INPUT_HELD_EXIT_CODE, command, with_session, writes_lake
from pipelines.jobs import Session
from pipelines.operations.progress import console

log = structlog.get_logger("ledgerbridge")


@command()
@click.argument("what", type=click.Choice(["legacy", "journals", "crm", "all"]), default="all")
@click.option(
    "--strict",
    is_flag=True,
    help="Stop at the first legacy value that does not decode (nothing of it lands).",
)
@click.option(
    "--allow-schema-change",
    is_flag=True,
    help="Accept a deliberate change of the landed CRM columns (configuration changed).",
)
@with_session
@writes_lake
def extract(session: Session, what: str, strict: bool, allow_schema_change: bool) -> None:
    """Land new legacy files and CRM changes as bronze Delta tables (dlt)."""
    result = jobs.extract(session, what, strict, allow_schema_change)
    for f in result.files:
        console.print(
            f"{f.file}: {f.status} — read {f.records_read:,}, landed "
            f"{f.records_landed:,}, quarantined {f.records_quarantined:,}"
            + (f" — {f.reason}" if f.reason else "")
        )
    if result.crm_rows:
        console.print("CRM rows: " + ", ".join(f"{k} {v:,}" for k, v in result.crm_rows.items()))
    for j in result.journals:
        console.print(
            f"journal {j.journal}: {j.applied:,} changes applied ({j.already_applied:,} already "
            f"applied, {j.rolled_back:,} rolled back, {j.pending:,} in open transactions); "
            f"applied through sequence {j.watermark:,}"
        )
        for why in j.rejected.values():
            console.print(f"[red]journal {j.journal}: receiver refused — {why}[/red]")
        if j.gap:
            console.print(
                f"[red]journal {j.journal}: sequence {j.gap[0]:,}-{j.gap[1]:,} missing; applying "
                f"halted after {j.watermark:,} until it arrives or `ledgerbridge cdc ack-gap "
                f"{j.journal} --from {j.gap[0]} --to {j.gap[1]}`[/red]"
            )
    for c in result.crm_schema_changes:
        console.print(
            f"CRM schema change: {c.object_type}.{c.property} {c.change.replace('_', ' ')}"
            + ("" if c.landed else " (not landed: not in the configured properties)")
        )
    if not (result.files or result.crm_rows or result.journals):
        console.print("nothing new to land")


@command()
@with_session
@writes_lake
def build(session: Session) -> None:
    """Build the dbt models and run their tests into <lake>/warehouse.duckdb."""
    plan, res = jobs.build(session)
    console.print(
        f"dbt ({plan.mode.replace('_', ' ')}: {plan.why}): "
        f"{res.seeds} seeds, {res.models} models, {res.tests} data tests and "
        f"{res.unit_tests} unit tests passed"
        + (f", {len(res.warnings)} warnings" if res.warnings else "")
    )


@command()
@with_session
@writes_lake
def publish(session: Session) -> None:
    """Publish the gold marts as Delta tables under <lake>/gold."""
    gold, masked = jobs.publish(session)
    for table, n in gold.items():
        console.print(f"gold/{table}: {n:,} rows")
    console.print(
        f"analyst.duckdb: {sum(masked.values())} personal columns pseudonymised in "
        f"{len(masked)} tables"
    )


@command()
@click.option("--customers", type=int, default=None, help="Demo size if the demo is generated.")
@with_session
@writes_lake
def run(session: Session, customers: int | None) -> None:
    """The main job: demo sources if absent, extract, build, publish, summary."""
    from pipelines.operations.summary import print_summary

    report = jobs.run_pipeline(session, customers)
    out = Console(width=max(110, console.width))
    print_summary(session.lake, report.extract, report.seconds, jobs.peak_mib(), out)
    if report.plan is not None:
        out.print(
            f"Build: {report.plan.mode.replace('_', ' ')} ({report.plan.why})"
            + (
                ", only the rows the journal changes touch were rebuilt and merged into gold"
                if report.plan.mode == "journal_increment"
                else ""
            )
        )
    from pipelines.operations.summary import explain_warning

    for w in report.warnings:
        out.print(f"[yellow]Note:[/yellow] {explain_warning(w)}")
    if report.unchanged:
        out.print(
            "Nothing new: no file, journal entry or CRM change since the last run; "
            "warehouse, gold and the analysts' copy left as they are."
        )
    if report.held:
        out.print(
            f"[yellow]Input refused or held ({len(report.held)}), exit code "
            f"{INPUT_HELD_EXIT_CODE}; everything else landed and was built:[/yellow]"
        )
        for line in report.held:
            out.print(f"  {line}")
        click.get_current_context().exit(INPUT_HELD_EXIT_CODE)


COMMANDS = [extract, build, publish, run]
