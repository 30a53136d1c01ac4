"""One writer per lake: every command that writes the lake holds `<work dir>/lake.lock`.

The lock is the kernel's (`flock` on that file), not a marker file: it is released when its
holder exits, however it exits — kill -9 and power loss included — so a lock can never
outlive its process, and no one has to guess from a timestamp whether a holder still lives
(the guess that lets two writers in). The file also says who holds it (host, pid, command,
since), for the message a second writer gets. A second writer waits up to `wait_s`
(`--wait`, LEDGERBRIDGE_LAKE_WAIT) and is then refused with exit code 75 (EX_TEMPFAIL:
try again later), naming the holder.

The work directory is on the machine that runs the command, so the kernel lock serialises
the writers of one machine. An object-store lake is also guarded across machines: the writer
then holds a lease in the bucket as well (lake_lease.py: conditional puts, an expiry renewed
while it writes, a generation number as fencing token); its TTL is LEDGERBRIDGE_LEASE_TTL
seconds (default 60), the time a crashed writer's lease blocks the others.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOCK_NAME = "lake.lock"
BUSY_EXIT_CODE = 75  # EX_TEMPFAIL (sysexits.h): the lake is busy, try again later


class LakeBusy(RuntimeError):
    """Another process writes this lake (the message names it)."""


def holder(root: Path) -> dict | None:
    """Who holds (or last held) the lake's lock, as written by the holder."""
    try:
        text = (root / LOCK_NAME).read_text()
    except FileNotFoundError:
        return None
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def describe(info: dict | None) -> str:
    if not info:
        return "another process (it has not said which yet)"
    return (
        f"`{info.get('command', '?')}` (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
        f"since {info.get('since', '?')})"
    )


@contextmanager
def lake_lock(root: Path, command: str, wait_s: float = 0.0, store: Any = None) -> Iterator[None]:
    """Hold the lake's writer lock for the block; wait up to `wait_s`, then LakeBusy.
    `store`: an object-store lake's data root (its s3fs path): the bucket's lease too."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait_s)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
                    raise LakeBusy(
                        f"lake {root} is being written by {describe(_named_holder(root))}"
                        f"{waited}; "
                        "one writer at a time. Try again when it has finished, or pass "
                        "--wait SECONDS to wait for it."
                    ) from None
                time.sleep(0.2)
        info = {
            "command": command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        lease = None
        try:
            if store is not None:
                lease = _take_lease(store, info, deadline, wait_s)
            yield
        finally:
            if lease is not None:
                lease.release()
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _take_lease(store: Any, info: dict, deadline: float, wait_s: float) -> Any:
    from pipelines.lake.lease import S3Lease

    ttl = float(os.environ.get("LEDGERBRIDGE_LEASE_TTL", "60"))
    lease = S3Lease(store.fs, store.path, info, ttl)
    while not lease.try_acquire():
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
            held = lease.holder()
            left = max(0, round(float(held.get("expires_at", 0)) - time.time()))
            raise LakeBusy(
                f"lake {store} is being written by {describe(held)} from another machine "
                f"(its lease runs {left} s more unless renewed){waited}; one writer at a "
                "time. Try again when it has finished, or pass --wait SECONDS."
            )
        time.sleep(0.5)
    lease.start_renewing()
    info["lease_generation"] = lease.generation
    return lease


def _named_holder(root: Path) -> dict | None:
    """The holder, given a moment to write its name (it takes the lock, then writes)."""
    for _ in range(40):
        info = holder(root)
        if info:
            return info
        time.sleep(0.05)
    return None
