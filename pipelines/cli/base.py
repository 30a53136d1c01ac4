"""What every command shares: the lake options (before or after the command's name), the
session it runs in, the writer lock, and one way a failure reaches a person — one line on
stderr, the traceback in the run's log file, an audit entry, a documented exit code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
import structlog

from pipelines.jobs import JobError, Session, is_audited, one_line, record, writing

log = structlog.get_logger("ledgerbridge")
# `run` completed, but some input was refused or waits (the summary lists it): cron and
# monitoring tell it from success (0), failure (1) and a busy lake (75)
INPUT_HELD_EXIT_CODE = 3
# commands that read or write no lake of their own: no log file is opened for them
NO_LOG_FILE = ("sql", "layout", "decode", "audit verify", "dsar", "cdc status", "status")


@dataclass
class CliState:
    """The shared options as given (the group's, then the command's), and the session
    opened from them when the command runs."""

    lake_url: str | None = None
    log_json: bool = False
    lock_wait: float = 0.0
    _session: Session | None = field(default=None, repr=False)

    def session(self, command: str) -> Session:
        if self._session is None:
            from pipelines.lake.paths import LakeLocationError
            from pipelines.operations.logs import configure_logging

            try:
                self._session = Session.open(self.lake_url)
            except LakeLocationError as exc:
                raise click.UsageError(str(exc)) from exc
            s = self._session
            logs = None if command in NO_LOG_FILE or s.foreign else s.lake.logs
            configure_logging(logs, s.run_id, s.settings.log_level, self.log_json)
        return self._session


def _set(attr: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(CliState), attr, value)

    return store


def shared_options(envvars: bool) -> list[click.Option]:
    """`--lake`, `--log-json`, `--wait`: on the group (with their environment variables) and
    again on every command, so `ledgerbridge --lake X run` and `ledgerbridge run --lake X`
    mean the same."""
    env = (lambda name: name) if envvars else (lambda _name: None)
    return [
        click.Option(
            ["--lake", "lake_url"],
            envvar=env("LEDGERBRIDGE_LAKE"),
            default=None,
            expose_value=False,
            is_eager=True,
            callback=_set("lake_url"),
            help="Lake root (path or URL). Default: lake/ of the checkout.",
        ),
        click.Option(
            ["--log-json"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_set("log_json"),
            help="Console logs as JSON lines too.",
        ),
        click.Option(
            ["--wait", "lock_wait"],
            envvar=env("LEDGERBRIDGE_LAKE_WAIT"),
            type=click.FloatRange(min=0),
            default=None,
            expose_value=False,
            callback=_set("lock_wait"),
            help="Seconds to wait for another writer of the lake to finish "
            "(default: refuse at once).",
        ),
    ]


def command_name(ctx: click.Context) -> str:
    """The command's own words: `run`, `cdc ack-gap`."""
    parts, at = [], ctx
    while at.parent is not None:
        parts.append(at.info_name or "")
        at = at.parent
    return " ".join(reversed(parts))


def first_sentence(text: str | None) -> str:
    """The help's first sentence, whole (click's own summary cuts at any period, e.g. in
    "GDPR Art. 17", or at a width)."""
    words = " ".join((text or "").split("\n\n")[0].split())
    depth = 0
    for i, ch in enumerate(words):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "." and depth == 0 and (i + 1 == len(words) or words[i + 1] == " "):
            return words[:i]
    return words.rstrip(".")


class LedgerCommand(click.Command):
    """A command with the shared options, whose failures are one audited line."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or first_sentence(self.help)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {}).setdefault("max_content_width", 100)
        super().__init__(*args, **kwargs)
        self.params.extend(shared_options(envvars=False))

    def invoke(self, ctx: click.Context) -> Any:
        from pipelines.lake.lock import BUSY_EXIT_CODE, LakeBusy
        from pipelines.operations.logs import record_traceback

        name = command_name(ctx)
        state = ctx.ensure_object(CliState)
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except LakeBusy as exc:  # audited as `refused` where it was raised
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(BUSY_EXIT_CODE)
        except click.ClickException as exc:
            session = _audit_session(state, name)
            if session is not None and not is_audited(exc):
                record(session, name, "error", reason=exc.format_message())
            raise
        except Exception as exc:
            session = _audit_session(state, name)
            reason = one_line(exc)
            if session is not None and not session.foreign:  # the log gets the traceback
                record_traceback(session.lake.logs, session.run_id, name, exc)
                if not is_audited(exc):
                    record(session, name, "error", reason=reason)
            if isinstance(exc, JobError):
                raise click.ClickException(f"{name} failed: {reason}") from exc
            details = (
                f" (details: {session.lake.logs / (session.run_id + '.jsonl')})" if session else ""
            )
            raise click.ClickException(f"{name} failed: {reason}{details}") from exc
        return None


def _audit_session(state: CliState, command: str) -> Session | None:
    """The session to audit a failure in — opened now for a command that works on files
    outside the lake (decode, layout) — or None when there is no lake to audit into."""
    if state._session is not None:
        return state._session
    try:
        return state.session(command)
    except Exception:  # no usable lake (a refused location): the console line is all
        return None


class LedgerGroup(click.Group):
    """A group whose commands and subgroups share the options and the failure handling."""

    command_class = LedgerCommand

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or first_sentence(self.help)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {}).setdefault("max_content_width", 100)
        super().__init__(*args, **kwargs)


LedgerGroup.group_class = LedgerGroup


def command(name: str | None = None, **kwargs: Any) -> Callable:
    """`@click.command` for a ledgerbridge command (shared options, audited failures)."""
    return click.command(name, cls=LedgerCommand, **kwargs)


def group(name: str | None = None, **kwargs: Any) -> Callable:
    return click.group(name, cls=LedgerGroup, **kwargs)


def with_session(command: Callable) -> Callable:
    """Pass the command's Session as its first argument (opened once options are parsed)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        session = ctx.ensure_object(CliState).session(command_name(ctx))
        return command(session, *args, **kwargs)

    return wrapper


def writes_lake(command: Callable) -> Callable:
    """The command writes the lake: it runs holding the lake's writer lock (one writer at a
    time); a second writer is refused naming the holder, exit code 75, audited."""

    @functools.wraps(command)
    def locked(session: Session, *args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        wait = ctx.ensure_object(CliState).lock_wait
        with writing(session, command_name(ctx), wait):
            return command(session, *args, **kwargs)

    return locked


def one_of(email: str | None, customer: int | None) -> None:
    if bool(email) == bool(customer):
        raise click.UsageError("give exactly one of --email or --customer")


__all__ = [
    "INPUT_HELD_EXIT_CODE",
    "CliState",
    "JobError",
    "LedgerCommand",
    "LedgerGroup",
    "command",
    "group",
    "one_of",
    "with_session",
    "writes_lake",
]
