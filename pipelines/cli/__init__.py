"""The `ledgerbridge` command line: each command parses, calls one job (pipelines/jobs.py)
and prints. Shared options (`--lake`, `--log-json`, `--wait`) go before or after the
command's name; failures are one line, audited (cli/base.py)."""

from __future__ import annotations

import os
import sys

import click

from pipelines.cli.base import CliState, LedgerGroup, shared_options


@click.group(
    cls=LedgerGroup,
    params=shared_options(envvars=True),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """ledgerbridge: legacy finance extracts + CRM → Delta lake → dbt marts → CRM."""
    ctx.ensure_object(CliState)


def _register() -> None:
    """Each command group lives in its own module; importing it adds its commands."""
    from pipelines.cli import (
        audit,
        cdc,
        decoder,
        demo,
        live,
        pipeline,
        privacy,
        serving,
        status,
        sync,
    )

    for module in (demo, pipeline, live, status, sync, serving, privacy, cdc, audit, decoder):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    code: int | str | None = 0
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code
    _leave(code)


def _leave(code: int | str | None) -> None:
    """Exit without interpreter finalization.

    deltalake's Rust runtime can abort the process ("terminate called without an active
    exception", exit -6) when Python tears down while its threads are alive (delta-rs issue
    2184): a command that succeeded would report a crash. The atexit handlers still run and
    every stream is flushed first; only the module teardown is skipped."""
    import atexit
    import logging

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code or 0)


__all__ = ["cli", "main"]
