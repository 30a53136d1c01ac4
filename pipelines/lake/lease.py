"""The writer lease of an object-store lake: one writer across machines sharing a bucket.

A kernel lock (lake_lock.py) only serialises the processes of one machine. In the bucket,
the lease is one object, `<lake>/_ledgerbridge/writer.lease` (holder, expiry, generation),
and every change to it is a conditional put, which S3 (since 2024) and SeaweedFS apply
atomically:
- take a free lease: put with `If-None-Match: *` (only one of two writers creates it);
- take over an expired lease (its holder died without releasing it): put with `If-Match:
  <the ETag read>` (only one of two takers wins), with the generation one higher;
- renew (every third of the TTL, from a thread): put with `If-Match: <our ETag>`; if that
  fails, someone took the lease over after our expiry — the process is interrupted at once
  rather than write beside the new holder;
- release: put an already-expired lease with `If-Match` (the next writer takes it over).
The generation is a fencing token: it rises with every holder and is recorded in the log
and the audit entry of the run that held it.

Fencing at commit. S3 cannot make a Delta commit conditional on another object, so the
holder fences itself: every commit point calls `fence()` first, which refuses unless the
lease is valid by the holder's own clock — renewed less than a TTL (minus a margin for
clock skew) ago. A taker can only take the lease over once it has expired, so a holder
that was paused (GC, suspended VM) or cut off from the store past its TTL finds its lease
invalid at its next commit and stops there, never writing beside the new holder; the
renewal thread interrupts it too as soon as the validity lapses.
"""

from __future__ import annotations

import _thread
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import structlog

log = structlog.get_logger(__name__)
LEASE_KEY = "_ledgerbridge/writer.lease"


class LeaseBusy(RuntimeError):
    """Another writer holds the lake's lease (the message names it)."""


class LeaseLost(RuntimeError):
    """This writer's lease is no longer valid: it must not commit (another may hold it)."""


# the lease this process holds, if any: commit points fence on it
_held: S3Lease | None = None
# a commit must start this long before the lease would expire (clock skew, commit time)
SKEW_MARGIN_S = 5.0


def fence() -> None:
    """Refuse to go on unless this process's lease (if it holds one) is valid: call before
    every commit to an object-store lake. No-op for a local lake (the kernel lock holds)."""
    if _held is not None:
        _held.check()


def _precondition_failed(exc: BaseException) -> bool:
    text = str(exc)
    return "pre-conditions" in text or "PreconditionFailed" in text or "412" in text


class S3Lease:
    def __init__(self, fs: Any, root: str, info: dict, ttl_s: float = 60.0) -> None:
        """`fs`: an s3fs filesystem; `root`: the lake's `bucket/prefix`."""
        self.fs = fs
        self.bucket, _, prefix = root.strip("/").partition("/")
        self.key = f"{prefix}/{LEASE_KEY}" if prefix else LEASE_KEY
        self.info = info
        self.ttl = ttl_s
        self.etag: str | None = None
        self.generation = 0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.valid_until = 0.0  # time.monotonic() after which the lease may be taken over

    # ---------- the object
    def _read(self) -> tuple[dict, str] | None:
        """The lease and its ETag, from one GET (a body and an ETag read apart could pair a
        renewed lease's ETag with the expired body, and steal a live lease)."""
        from fsspec.asyn import sync

        async def get() -> tuple[bytes, str]:
            got = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key)
            return await got["Body"].read(), got["ETag"]

        try:
            data, etag = sync(self.fs.loop, get)
        except FileNotFoundError:
            return None
        return json.loads(data or b"{}"), etag

    def _put(self, lease: dict, **condition: str) -> str:
        body = json.dumps(lease).encode()
        sent = time.monotonic()
        got = self.fs.call_s3(
            "put_object", Bucket=self.bucket, Key=self.key, Body=body, **condition
        )
        # valid from when the put was sent: the store may have applied it at once
        self.valid_until = sent + max(0.0, lease["expires_at"] - time.time())
        return got["ETag"]

    def check(self) -> None:
        """LeaseLost unless the lease is still ours by our own clock (see `fence`)."""
        left = self.valid_until - time.monotonic()
        if left < min(SKEW_MARGIN_S, self.ttl / 4):
            raise LeaseLost(
                f"the lake's writer lease (generation {self.generation}) was not renewed "
                f"for a whole TTL of {self.ttl:g} s; another writer may hold it now — "
                "stopped before committing"
            )

    def _lease(self, expires_in: float) -> dict:
        return self.info | {"generation": self.generation, "expires_at": time.time() + expires_in}

    # ---------- taking, keeping, giving back
    def try_acquire(self) -> bool:
        current = self._read()
        try:
            if current is None:
                self.generation = 1
                self.etag = self._put(self._lease(self.ttl), IfNoneMatch="*")
                return True
            lease, etag = current
            if float(lease.get("expires_at", 0)) > time.time():
                self._holder = lease
                return False
            self.generation = int(lease.get("generation", 0)) + 1
            self.etag = self._put(self._lease(self.ttl), IfMatch=etag)
            if lease.get("expires_at", 0) and lease.get("released") is not True:
                log.warning("lake_lease_taken_over", previous=lease, generation=self.generation)
            return True
        except OSError as exc:
            if _precondition_failed(exc):  # another writer got there first
                self._holder = (self._read() or ({}, ""))[0]
                return False
            raise

    def holder(self) -> dict:
        return getattr(self, "_holder", {}) or {}

    def start_renewing(self) -> None:
        global _held
        _held = self
        self._renewer = threading.Thread(target=self._renew, name="lake-lease", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.etag = self._put(self._lease(self.ttl), IfMatch=self.etag)
            except OSError as exc:
                if not _precondition_failed(exc):
                    log.warning("lake_lease_renewal_retry", error=str(exc))
                    if time.monotonic() < self.valid_until:
                        continue
                    log.error(
                        "lake_lease_expired",
                        detail="the store could not be reached for a whole TTL; stopping",
                    )
                    _thread.interrupt_main()
                    return
                log.error(
                    "lake_lease_lost",
                    detail="another writer took the lake's lease over; stopping at once",
                )
                _thread.interrupt_main()
                return

    def release(self) -> None:
        global _held
        if _held is self:
            _held = None
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=10)
        try:
            lease = self._lease(0) | {
                "released": True,
                "released_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._put(lease, IfMatch=self.etag)
        except OSError as exc:  # lost meanwhile: the other holder's lease stays as it is
            log.warning("lake_lease_release_failed", error=str(exc))
