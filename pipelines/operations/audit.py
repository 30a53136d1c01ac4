"""The audit log: who did what, when, from where, with what outcome — append-only and
hash-chained, so an altered or removed entry is detected (`ledgerbridge audit verify`).

Each entry carries the hash of the previous one; its own hash covers its content and that
link. Entries are JSON lines under `<lake>/audit/`, appended under an exclusive file lock
so commands, the write-back and API threads can log concurrently. It holds no personal
values: actors are user or API-key names, targets are ids.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake

GENESIS = "0" * 64
_LOCK = threading.Lock()


def _digest(entry: dict) -> str:
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _last_hash(fh: object) -> str:
    """The hash of the file's last entry (reads only its tail)."""
    fh.seek(0, os.SEEK_END)  # type: ignore[attr-defined]
    size = fh.tell()  # type: ignore[attr-defined]
    if size == 0:
        return GENESIS
    back = min(size, 1 << 16)
    fh.seek(size - back)  # type: ignore[attr-defined]
    last = fh.read(back).rstrip(b"\n").rsplit(b"\n", 1)[-1]  # type: ignore[attr-defined]
    return json.loads(last)["hash"]


def local_actor() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


class AuditLog:
    def __init__(self, lake: Lake) -> None:
        self.path = lake.audit / "audit.jsonl"

    def record(
        self,
        actor: str,
        action: str,
        outcome: str,
        target: str = "",
        source: str = "cli",
        run_id: str = "",
        **details: object,
    ) -> dict:
        """Append one entry; returns it (with its hash)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "target": target,
            "source": source,
            "outcome": outcome,
            "run_id": run_id,
            "details": details,
        }
        with _LOCK, open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                entry["prev_hash"] = _last_hash(fh)
                entry["hash"] = _digest(entry)
                fh.seek(0, os.SEEK_END)
                fh.write(json.dumps(entry, ensure_ascii=False).encode("utf-8") + b"\n")
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines()]


@dataclass(frozen=True)
class Verification:
    entries: int
    problem: str | None  # None: the chain is intact


def verify(path: Path) -> Verification:
    """Recompute the chain; the first entry that does not fit is named by its line."""
    if not path.exists():
        return Verification(0, None)
    prev = GENESIS
    n = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
        except ValueError:
            return Verification(n, f"line {n}: not a JSON entry")
        claimed = entry.pop("hash", None)
        if entry.get("prev_hash") != prev:
            return Verification(
                n, f"line {n}: does not follow line {n - 1} (entry removed or reordered)"
            )
        if _digest(entry) != claimed:
            return Verification(n, f"line {n}: content does not match its hash (entry altered)")
        prev = claimed
    return Verification(n, None)


def _mirror_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("line", pa.int64()),
            ("at", pa.string()),
            ("actor", pa.string()),
            ("action", pa.string()),
            ("target", pa.string()),
            ("source", pa.string()),
            ("outcome", pa.string()),
            ("run_id", pa.string()),
            ("details", pa.string()),  # JSON
            ("prev_hash", pa.string()),
            ("hash", pa.string()),
        ]
    )


def mirror_to_delta(lake: Lake) -> int:
    """Append the entries not yet mirrored to the Delta table `<lake>/audit/audit_log`, for
    querying with any Delta reader; returns how many. The JSON-lines file stays the
    write path (one locked append per event); the mirror is checked by `verify_mirror`."""
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import TableNotFoundError

    log = AuditLog(lake)
    entries = log.entries()
    target = str(lake.audit_mirror)
    try:
        have = DeltaTable(target).to_pyarrow_table(columns=["line"])["line"].to_pylist()
    except TableNotFoundError:
        have = []
    start = max(have, default=0)
    fresh = [
        {
            "line": n,
            **{k: e.get(k, "") for k in ("at", "actor", "action", "target", "source", "outcome")},
            "run_id": e.get("run_id", ""),
            "details": json.dumps(e.get("details", {}), sort_keys=True, ensure_ascii=False),
            "prev_hash": e["prev_hash"],
            "hash": e["hash"],
        }
        for n, e in enumerate(entries, start=1)
        if n > start
    ]
    if fresh:
        fence()
        write_deltalake(target, pa.Table.from_pylist(fresh, _mirror_schema()), mode="append")
    return len(fresh)


def verify_mirror(lake: Lake) -> str | None:
    """None if every mirrored row equals its line in the chained log; else the first
    difference (a Delta row changed, removed or added outside the log)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        rows = DeltaTable(str(lake.audit_mirror)).to_pyarrow_table().to_pylist()
    except TableNotFoundError:
        return None
    entries = AuditLog(lake).entries()
    lines = sorted(r["line"] for r in rows)
    if lines != list(range(1, len(lines) + 1)):
        return "audit_log (Delta): rows missing or duplicated"
    for r in rows:
        if r["line"] > len(entries) or entries[r["line"] - 1]["hash"] != r["hash"]:
            return f"audit_log (Delta) line {r['line']}: differs from the chained log"
        e = entries[r["line"] - 1]
        if (r["actor"], r["action"], r["outcome"]) != (e["actor"], e["action"], e["outcome"]):
            return f"audit_log (Delta) line {r['line']}: content altered"
    return None
