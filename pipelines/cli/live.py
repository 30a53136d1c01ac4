"""`watch`: the bridge kept running until it is asked to stop."""

from __future__ import annotations

import signal
import threading

import click

from pipelines.cli.base import CliState, command, with_session
from pipelines.jobs import Session
from pipelines.operations.progress import console


@command()
@click.option(
    "--poll",
    "poll_s",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between looks at the landing zone and the webhook inbox.",
)
@click.option(
    "--settle",
    "settle_s",
    type=float,
    default=2.0,
    show_default=True,
    help="A landing file unchanged this many seconds is complete.",
)
@click.option(
    "--crm-interval",
    "crm_interval_s",
    type=float,
    default=60.0,
    show_default=True,
    help="Incremental CRM search at least this often (seconds).",
)
@click.option("--no-write-back", is_flag=True, help="Do not write finance status to the CRM.")
@with_session
def watch(
    session: Session, poll_s: float, settle_s: float, crm_interval_s: float, no_write_back: bool
) -> None:
    """Keep the bridge running: take changes in as they arrive, until SIGTERM or Ctrl-C.

    New legacy files and journal receivers are taken once complete; CRM changes come from
    webhooks and an incremental search; what they touch is rebuilt, gold merged and the
    changed finance status written back. The lake stays locked for other writers."""
    from pipelines.live.watch import Cycle, WatchConfig
    from pipelines.live.watch import watch as run_watch

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        console.print(f"{signal.Signals(signum).name}: finishing the step in progress")
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_stop)
    config = WatchConfig(
        poll_s=poll_s,
        settle_s=settle_s,
        crm_interval_s=crm_interval_s,
        write_back=not no_write_back,
        wait_s=click.get_current_context().ensure_object(CliState).lock_wait,
    )
    console.print(f"watching {session.lake.url} (stop with Ctrl-C or SIGTERM)")

    def said(cycle: Cycle) -> None:
        wrote = f", {cycle.written_back} CRM companies updated" if cycle.written_back else ""
        console.print(f"{', '.join(cycle.reasons)}: {cycle.build} in {cycle.seconds:.1f} s{wrote}")

    cycles = run_watch(session, config, stop, said)
    console.print(f"stopped after {cycles} cycles with changes")


COMMANDS = [watch]
