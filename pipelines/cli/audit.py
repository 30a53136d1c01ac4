"""`audit verify`: the hash chain of the audit log, and its Delta mirror."""

from __future__ import annotations

from pipelines.cli.base import JobError, group, with_session
from pipelines.jobs import Session
from pipelines.operations.progress import console


@group()
def audit() -> None:
    """The audit log of runs, write-backs and API requests."""


@audit.command("verify")
@with_session
def audit_verify(session: Session) -> None:
    """Check the hash chain: any altered or removed entry is reported by its line."""
    from pipelines.operations.audit import AuditLog, verify, verify_mirror

    log = AuditLog(session.lake)
    if not log.path.exists():
        raise JobError(
            f"no audit log at {log.path}: nothing has been done in this lake yet (check --lake)"
        )
    result = verify(log.path)
    if result.problem:
        raise JobError(f"audit log {log.path}: {result.problem}")
    mirror = verify_mirror(session.lake)
    if mirror:
        raise JobError(mirror)
    console.print(f"audit log intact: {result.entries:,} entries (Delta mirror consistent)")


COMMANDS = [audit]
