"""`demo` (the embedded default's sources) and `crm-sandbox` (its CRM, served)."""

from __future__ import annotations

import secrets
from datetime import datetime

import click

from pipelines import jobs
from pipelines.cli.base import CliState, command, with_session
from pipelines.jobs import Session
from pipelines.operations.progress import console


@command()
@click.argument("action", type=click.Choice(["tick"]), required=False)
@click.option("--customers", type=int, default=None, help="Customers to generate (100 to 2M).")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same lake).")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Extract date of the demo files (default 2026-10-30).",
)
@click.option("--fresh", is_flag=True, help="Wipe the lake first if it already holds data.")
@click.option(
    "--changes", type=click.IntRange(min=1), default=None, help="tick: how many changes (10)."
)
@with_session
def demo(
    session: Session,
    action: str | None,
    customers: int | None,
    seed: int | None,
    as_of: datetime | None,
    fresh: bool,
    changes: int | None,
) -> None:
    """Generate the demo legacy extracts and CRM sandbox data (and their ground truth).

    `demo tick [--changes N]` makes the demo's source systems move on instead: one more
    journal receiver per journaled file and N edits in the CRM sandbox, so a person can watch
    them flow (`ledgerbridge watch`). It writes only where the sources would, so it runs
    beside `watch`."""
    if action == "tick":
        if customers or as_of or fresh:
            raise click.UsageError("demo tick takes --changes and --seed only")
        done = jobs.demo_tick(session, changes or 10, seed)
        console.print(
            f"demo tick: journal receivers for {done['journal']:,} changed rows in "
            f"{session.lake.legacy_landing}; {done['crm']:,} CRM edits at {done['crm_url']}"
        )
        return
    if changes:
        raise click.UsageError("--changes belongs to `demo tick`")
    wait = click.get_current_context().ensure_object(CliState).lock_wait
    n = customers or session.settings.demo_customers
    with jobs.writing(session, "demo", wait):
        truth = jobs.demo(session, customers, seed, as_of.date() if as_of else None, fresh)
    console.print(
        f"demo: {n:,} customers, {len(truth['files'])} legacy files in {session.lake.landing}; "
        "next: `ledgerbridge run`"
    )


@command("crm-sandbox")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option(
    "--token",
    envvar="LEDGERBRIDGE_CRM_TOKEN",
    default=None,
    help="Bearer token clients must send (default: a new random one, printed).",
)
@click.option(
    "--rate-limit",
    type=int,
    default=1000,
    show_default=True,
    help="Requests per 10 s before the sandbox answers 429.",
)
@click.option(
    "--webhook-url",
    default=None,
    help="Send every edit as a HubSpot webhook to this URL (e.g. serve's /webhooks/hubspot).",
)
@click.option(
    "--client-secret",
    envvar="LEDGERBRIDGE_CRM_CLIENT_SECRET",
    default=None,
    help="The app's client secret the webhooks are signed with (signature v3).",
)
@with_session
def crm_sandbox(
    session: Session,
    port: int,
    token: str | None,
    rate_limit: int,
    webhook_url: str | None,
    client_secret: str | None,
) -> None:
    """Serve the CRM sandbox (HubSpot CRM v3 subset) on 127.0.0.1 until interrupted."""
    from pipelines.embedded.crm_sandbox.server import serve_forever

    if webhook_url and not client_secret:
        raise click.UsageError("--webhook-url needs --client-secret (webhooks are signed)")
    token = token or secrets.token_urlsafe(24)
    console.print(f"CRM sandbox on http://127.0.0.1:{port} — token: {token}")
    if webhook_url:
        console.print(f"every edit is sent as a signed webhook to {webhook_url}")
    serve_forever(session.lake.crm_sandbox_db, token, port, rate_limit, webhook_url, client_secret)


COMMANDS = [demo, crm_sandbox]
