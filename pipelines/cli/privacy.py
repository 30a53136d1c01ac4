"""Data-subject rights and retention: `dsar`, `suppress`, `forget`, `retention` (role dpo)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from pipelines import jobs
from pipelines.cli.base import command, one_of, with_session, writes_lake
from pipelines.jobs import Session
from pipelines.operations.progress import console


@command()
@click.option("--email", default=None, help="The subject's e-mail address.")
@click.option("--customer", type=int, default=None, help="The subject's customer number.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_session
def dsar(session: Session, email: str | None, customer: int | None, out: Path | None) -> None:
    """Subject access export (JSON): everything held about a person or customer, with
    source, purpose, legal basis and retention of each item. Role: dpo."""
    one_of(email, customer)
    report = jobs.dsar_export(session, email, customer)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    records = sum(len(i["records"]) for i in report["items"])
    if out:
        out.write_text(text, encoding="utf-8")
        out.chmod(0o600)
        console.print(f"{out}: {len(report['items'])} locations, {records:,} records")
    else:
        click.echo(text)
    if not report["items"]:
        console.print("the lake holds nothing about this subject")


@command()
@click.option("--email", required=True, help="The person's e-mail address.")
@click.option("--reason", default="erasure request (GDPR Art. 17)", show_default=True)
@click.option("--erase-in-crm", is_flag=True, help="Also call the CRM's GDPR delete.")
@with_session
@writes_lake
def suppress(session: Session, email: str, reason: str, erase_in_crm: bool) -> None:
    """Put a person on the suppression list: CRM extracts never land them again. Role: dpo."""
    added, erased = jobs.suppress(session, email, reason, erase_in_crm)
    console.print(
        ("added to" if added else "already on")
        + " the suppression list"
        + ("" if erased is None else f"; CRM contact {'erased' if erased else 'not found'}")
    )


@command()
@click.option("--email", default=None, help="The subject's e-mail address.")
@click.option("--customer", type=int, default=None, help="The subject's customer number.")
@click.option("--no-crm", is_flag=True, help="Do not call the CRM's erasure endpoint.")
@with_session
@writes_lake
def forget(session: Session, email: str | None, customer: int | None, no_crm: bool) -> None:
    """Erase a person (GDPR Art. 17), keeping what accounting law requires. Role: dpo.

    CRM data is deleted everywhere; accounting records under retention are restricted
    (pseudonymised, amounts kept, erasable date registered); the CRM's erasure is called;
    the person is suppressed in later extracts."""
    one_of(email, customer)
    done = jobs.forget(session, email, customer, call_crm=not no_crm)
    report = done.report
    if not report.changed_anything():
        console.print(
            "the lake holds nothing about this subject; "
            f"CRM contacts erased: {done.erased_in_crm}; suppressed: {done.suppressed}"
        )
        return
    for location, n in report.deleted.items():
        console.print(f"deleted {n:,} rows from {location}")
    for location, n in report.restricted.items():
        console.print(f"restricted {n:,} rows in {location} (erasable on {report.erasable_on})")
    console.print(
        f"{len(report.landing_files_rewritten)} landing files rewritten; "
        f"{report.delta_tables_purged} Delta tables purged of history; "
        f"{report.dlt_packages_removed} dlt load packages removed; warehouse rebuilt and "
        f"compacted; CRM contacts erased: {done.erased_in_crm}; suppressed: {done.suppressed}"
    )


@command()
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to judge retention on (default: today).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be purged; change nothing.")
@with_session
@writes_lake
def retention(session: Session, as_of: datetime | None, dry_run: bool) -> None:
    """Purge what has passed its retention period. Role: dpo.

    Accounting records go 8 years after their year's end, restricted customers on their
    erasable day, operational data after a year, CRM records once archived in the CRM."""
    day = as_of.date() if as_of else datetime.now(UTC).date()
    report = jobs.retention(session, day, dry_run)
    verb = "would purge" if dry_run else "purged"
    for location, n in report.purged.items():
        console.print(f"{verb} {n:,} rows from {location}")
    for path in report.files_removed:
        console.print(f"{'would remove' if dry_run else 'removed'} {path}")
    if report.customers_erased:
        console.print(
            f"{verb} restricted customers whose erasable day has come: "
            + ", ".join(str(c) for c in report.customers_erased)
        )
    if not report.purged and not report.files_removed:
        console.print(f"nothing has passed its retention period on {day.isoformat()}")
    elif not dry_run:
        console.print("warehouse and gold rebuilt; Delta history purged; warehouse compacted")


COMMANDS = [dsar, suppress, forget, retention]
