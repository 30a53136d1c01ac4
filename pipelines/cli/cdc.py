"""`cdc`: the journals' state — status, gap acknowledgement, drift, re-baselining."""

from __future__ import annotations

import json
from datetime import date

import click
from rich.table import Table

from pipelines import jobs
from pipelines.cli.base import group, with_session, writes_lake
from pipelines.jobs import Session
from pipelines.operations.progress import console

SHOWN_DIFFERENCES = 20


@group()
def cdc() -> None:
    """Journal (CDC) state: status, gap acknowledgement, drift against a full extract,
    re-baselining."""


@cdc.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_session
def cdc_status(session: Session, fmt: str) -> None:
    """Per journal: applied through which sequence, baseline, gaps, refused receivers."""
    journals = jobs.cdc_status(session)
    if fmt == "json":
        click.echo(json.dumps(journals, indent=1, default=str))
        return
    t = Table("journal", "applied through", "baseline extract", "at sequence", "gap")
    for j in journals:
        gap = j["gap"]
        t.add_row(
            j["journal"],
            "—" if j["applied_through"] is None else f"{j['applied_through']:,}",
            j["baseline_extract_date"] or "—",
            "—" if j["baseline_sequence"] is None else f"{j['baseline_sequence']:,}",
            f"[red]{gap['from']:,}-{gap['to']:,} missing (halted)[/red]" if gap else "none",
        )
    console.print(t)
    for j in journals:
        if j["applied_through"] is None:
            console.print(
                f"{j['journal']}: no journal applied yet (no receiver, or no full extract of "
                "its file has landed)"
            )
        for low, high in j["acknowledged_gaps"]:
            console.print(f"{j['journal']}: sequences {low:,}-{high:,} acknowledged as lost")
        for r in j["refused_receivers"]:
            console.print(f"[red]{j['journal']}: receiver refused — {r['reason']}[/red]")


@cdc.command("compact")
@with_session
@writes_lake
def cdc_compact(session: Session) -> None:
    """Bring each journaled file's state (bronze/legacy_cdc/<table>) up to date."""
    for r in jobs.cdc_compact(session):
        what = "rewritten" if r.rows else (f"{r.merged:,} keys merged" if r.merged else "current")
        console.print(f"bronze/legacy_cdc/{r.journal}: {what}")


@cdc.command("ack-gap")
@click.argument("journal")
@click.option("--from", "low", type=int, required=True, help="First missing sequence.")
@click.option("--to", "high", type=int, required=True, help="Last missing sequence.")
@with_session
@writes_lake
def cdc_ack_gap(session: Session, journal: str, low: int, high: int) -> None:
    """Accept that sequences FROM..TO will never arrive; the next apply goes past them."""
    if high < low:
        raise click.BadParameter("--to must not be below --from")
    jobs.cdc_ack_gap(session, journal, low, high)
    console.print(
        f"{journal}: gap {low:,}-{high:,} acknowledged; run `ledgerbridge extract journals`"
    )


@cdc.command("drift")
@click.argument("journal")
@click.option("--extract-date", default=None, help="Full extract to compare (default: latest).")
@click.option("--sequence", type=int, default=None, help="Journal position of that extract.")
@with_session
def cdc_drift(
    session: Session, journal: str, extract_date: str | None, sequence: int | None
) -> None:
    """Compare a landed full extract with the journal-maintained state (ops/cdc_drift)."""
    report = jobs.cdc_drift(session, journal, extract_date, sequence)
    kinds: dict[str, int] = {}
    for d in report.differences:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    console.print(
        f"{journal}: extract {report.extract_date} vs journal state at sequence "
        f"{report.sequence:,}: {report.rows_compared:,} rows, "
        + (", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in kinds.items()) or "no drift")
    )
    if report.note:
        console.print(f"  ({report.note})")
    for d in report.differences[:SHOWN_DIFFERENCES]:
        detail = ""
        if d.get("column_name"):
            detail = (
                f" {d['column_name']}: extract {d['extract_value']!r}"
                f" vs journal {d['journal_value']!r}"
            )
        console.print(f"  {d['record_key']}: {d['kind'].replace('_', ' ')}{detail}")
    if report.differences:
        raise SystemExit(1)


@cdc.command("rebaseline")
@click.argument("journal")
@click.option(
    "--extract-date",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="The landed full extract to start from.",
)
@click.option("--sequence", type=int, required=True, help="Journal position of that extract.")
@with_session
@writes_lake
def cdc_rebaseline(session: Session, journal: str, extract_date: object, sequence: int) -> None:
    """Take a full extract as the state at SEQUENCE; later journal changes apply on top."""
    day: date = extract_date.date()  # type: ignore[attr-defined]
    rows = jobs.cdc_rebaseline(session, journal, day, sequence)
    console.print(
        f"{journal}: baseline = extract {day.isoformat()} ({rows:,} rows) at sequence {sequence:,}"
    )


COMMANDS = [cdc]
