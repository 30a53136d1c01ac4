"""The journals' file log: every receiver seen, and whether it was applied or refused (why).

The legacy extracts have `bronze/legacy/file_log`; journal receivers are re-read on every
run (their entries are de-duplicated by sequence), so their log is kept apart, in
`bronze/legacy_cdc/receiver_log`, one row per journal and receiver. A row changes only when
the receiver does (a new copy: another fingerprint) or its outcome does, so a run with
nothing new writes no Delta version. A refused receiver's row keeps its reason — the byte
offset and field where it went wrong — until a good copy replaces it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake

SCHEMA = pa.schema(
    [
        ("journal", pa.string()),
        ("receiver", pa.string()),
        ("fingerprint", pa.string()),  # size:crc32 of the receiver's bytes
        ("status", pa.string()),  # applied | rejected
        ("entries", pa.int64()),
        ("reason", pa.string()),
        ("run_id", pa.string()),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
    ]
)


def receiver_log_path(lake: Lake) -> str:
    return str(lake.receiver_log)


def read_receiver_log(lake: Lake) -> list[dict]:
    """Every row of the log (empty before the first journal was read)."""
    try:
        return DeltaTable(receiver_log_path(lake)).to_pyarrow_table().to_pylist()
    except TableNotFoundError:
        return []


def record_receivers(
    lake: Lake,
    journal: str,
    fingerprints: dict[str, str],
    entries: dict[str, int],
    rejected: dict[str, str],
    run_id: str,
) -> int:
    """Upsert the receivers whose fingerprint or outcome changed; returns how many."""
    known = {
        r["receiver"]: (r["fingerprint"], r["status"], r["reason"])
        for r in read_receiver_log(lake)
        if r["journal"] == journal
    }
    now = datetime.now(UTC)
    rows = []
    for name, fingerprint in sorted(fingerprints.items()):
        status = "rejected" if name in rejected else "applied"
        reason = rejected.get(name)
        if known.get(name) == (fingerprint, status, reason):
            continue
        rows.append(
            {
                "journal": journal,
                "receiver": name,
                "fingerprint": fingerprint,
                "status": status,
                "entries": entries.get(name, 0),
                "reason": reason,
                "run_id": run_id,
                "recorded_at": now,
            }
        )
    if not rows:
        return 0
    table = pa.Table.from_pylist(rows, SCHEMA)
    path = receiver_log_path(lake)
    try:
        target = DeltaTable(path)
    except TableNotFoundError:
        fence()
        write_deltalake(path, table)
        return len(rows)
    fence()
    (
        target.merge(
            table,
            predicate="t.journal = s.journal and t.receiver = s.receiver",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return len(rows)
