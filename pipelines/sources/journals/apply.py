"""Apply a journal exactly once, in sequence order, committed transactions only.

The change log (`bronze/legacy_cdc/<table>_changes`, Delta) is the applied truth: one row per
applied change (insert, update with its before-image as a typed struct, delete) with
sequence, time, job, user and program. The current state is the baseline (`<table>_base`,
a full extract taken at a known sequence) overlaid with the changes after it; the
warehouse materialises it (dbt `stg_legacy_cdc__<table>`). Appending changes instead of
rewriting a merged table is what makes a 1 % change set cost a fraction of a full reload.

Order of writes, so that a kill at any point converges: (1) the change rows not yet in the
log are appended (one atomic Delta commit; rows already there, by sequence, are skipped);
(2) the state file (watermark, gap alert) is replaced atomically. Rerunning after a kill
reads the same receivers, finds the appended rows and writes only what is missing.

A gap in the sequence halts this journal at the last contiguous entry and raises an alert
naming the missing range, until the entries arrive or an operator acknowledges the gap
(`ledgerbridge cdc ack-gap`). Transactions under commitment control are applied at their
commit (CM), skipped at their rollback (RB), and held while open (the watermark stays
before them).
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.contracts import enforce
from pipelines.lake import Lake
from pipelines.sources.journals import feeds as jf
from pipelines.sources.journals.read import HEADER, JournalError, read_entries
from pipelines.storage import write_text_atomically


@dataclass
class ApplyReport:
    journal: str
    entries_read: int = 0
    applied: int = 0  # change rows appended this run
    already_applied: int = 0
    rolled_back: int = 0
    pending: int = 0  # entries of transactions still open
    watermark: int = 0
    gap: tuple[int, int] | None = None
    files: list[str] = field(default_factory=list)


def cdc_root(lake: Lake) -> Path:
    return lake.bronze / "legacy_cdc"


def changes_path(lake: Lake, journal: str) -> str:
    return str(cdc_root(lake) / f"{journal}_changes")


def base_path(lake: Lake, journal: str) -> str:
    return str(cdc_root(lake) / f"{journal}_base")


def state_path(lake: Lake, journal: str) -> Path:
    return lake.ops / "cdc" / f"{journal}.json"


def load_state(lake: Lake, journal: str) -> dict:
    path = state_path(lake, journal)
    if path.exists():
        return json.loads(path.read_text())
    return {"watermark": None, "baseline": None, "gap": None, "acknowledged_gaps": []}


def save_state(lake: Lake, journal: str, state: dict) -> None:
    write_text_atomically(state_path(lake, journal), json.dumps(state, indent=1, default=str))


def _kill_point(name: str) -> None:
    """Tests kill the process here for real (SIGKILL), to prove convergence."""
    if os.environ.get("LEDGERBRIDGE_CDC_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def ensure_baseline(lake: Lake, journal: jf.JournalFeed, state: dict) -> None:
    """First apply: the latest full extract in bronze is the baseline at sequence 0."""
    if state["baseline"] is not None:
        return
    table = DeltaTable(str(lake.bronze_table("legacy", journal.image.name))).to_pyarrow_table()
    latest = pc.max(table["_extract_date"]).as_py()
    rebaseline(lake, journal, latest, 0, state, table)


def rebaseline(
    lake: Lake,
    journal: jf.JournalFeed,
    extract_date: object,
    sequence: int,
    state: dict,
    table: pa.Table | None = None,
) -> int:
    """Take the full extract of `extract_date` (already landed in bronze) as the state at
    journal `sequence`; changes after it apply on top. Returns the baseline's row count."""
    if table is None:
        table = DeltaTable(str(lake.bronze_table("legacy", journal.image.name))).to_pyarrow_table()
    rows = table.filter(
        pc.equal(table["_extract_date"], pa.scalar(extract_date, table["_extract_date"].type))
    )
    if rows.num_rows == 0:
        raise JournalError(
            f"{journal.name}: no full extract of {extract_date} in bronze to take as baseline"
        )
    keep = [c for c in rows.column_names if not c.startswith("_")]
    base = rows.select(keep)
    base = base.append_column(
        "baseline_extract_date",
        pa.array([extract_date] * base.num_rows, rows["_extract_date"].type),
    ).append_column("baseline_sequence", pa.array([sequence] * base.num_rows, pa.int64()))
    base = enforce("legacy_cdc", f"{journal.name}_base", base)
    write_deltalake(base_path(lake, journal.name), base, mode="overwrite", schema_mode="overwrite")
    state["baseline"] = {"extract_date": str(extract_date), "sequence": sequence}
    state["watermark"] = sequence
    state["gap"] = None
    return rows.num_rows


def _applied_sequences(lake: Lake, journal: str, above: int) -> set[int]:
    try:
        dt = DeltaTable(changes_path(lake, journal))
    except TableNotFoundError:
        return set()
    seq = dt.to_pyarrow_table(columns=["sequence"], filters=[("sequence", ">", above)])
    return set(seq["sequence"].to_pylist())


def _acknowledged(state: dict, seq: int) -> bool:
    return any(lo <= seq <= hi for lo, hi in state["acknowledged_gaps"])


def apply_journal(
    lake: Lake, journal: jf.JournalFeed, run_id: str, pseudonym_key: bytes = b""
) -> ApplyReport:
    report = ApplyReport(journal.name)
    state = load_state(lake, journal.name)
    entries = read_entries(lake, journal)
    report.files = [Path(f).name for f in entries.files]
    if entries.table.num_rows == 0:
        report.watermark = state["watermark"] or 0
        return report
    ensure_baseline(lake, journal, state)
    watermark = state["watermark"]
    table = entries.table.filter(pc.greater(entries.table["joseqn"], watermark))
    report.entries_read = entries.table.num_rows
    image_cols = [
        c for c in table.column_names if c not in (*HEADER, "source_file", "image_errors")
    ]
    # Only the small header columns are walked in Python; images move as Arrow columns.
    seqs = table["joseqn"].to_pylist()
    kinds = table["joentt"].to_pylist()
    ccids = table["joccid"].to_pylist()
    keys = pc.cast(table[journal.key], pa.string()).to_pylist()
    expected = watermark + 1
    open_txns: dict[int, list[tuple[int, int | None, str]]] = {}
    open_since: dict[int, int] = {}
    before: dict[str, int] = {}  # key → row of the UB image awaiting its UP
    emitted: list[tuple[int, int | None, str]] = []  # (row, before-image row, operation)
    last = watermark
    gap = None
    for row, (seq, kind, ccid) in enumerate(zip(seqs, kinds, ccids, strict=True)):
        if seq != expected:
            while expected < seq and _acknowledged(state, expected):
                expected += 1
            if seq != expected:
                gap = (expected, seq - 1)
                break
        expected = seq + 1
        last = seq
        ccid = ccid or 0
        if kind == jf.COMMIT_START:
            open_txns.setdefault(ccid, [])
            open_since.setdefault(ccid, seq)
            continue
        if kind == jf.COMMIT:
            emitted += open_txns.pop(ccid, [])
            open_since.pop(ccid, None)
            continue
        if kind == jf.ROLLBACK:
            report.rolled_back += len(open_txns.pop(ccid, []))
            open_since.pop(ccid, None)
            continue
        key = keys[row]
        if kind == jf.BEFORE_IMAGE:
            before[key] = row
            continue
        if kind in jf.INSERTS:
            change = (row, None, "insert")
        elif kind == jf.AFTER_IMAGE:
            change = (row, before.pop(key, None), "update")
        elif kind in jf.DELETES:
            change = (row, None, "delete")
        else:
            raise JournalError(
                f"{journal.name}: sequence {seq} in {table['source_file'][row]}: entry type "
                f"{kind!r} is not one ledgerbridge applies (PT PX UB UP DL SC CM RB)"
            )
        if ccid:
            open_txns.setdefault(ccid, []).append(change)
            open_since.setdefault(ccid, seq)
        else:
            emitted.append(change)
    report.pending = sum(len(v) for v in open_txns.values())
    # the watermark never passes the start of a transaction still open, nor a before-image
    # whose after-image has not arrived
    new_watermark = min(
        [last, *(s - 1 for s in open_since.values()), *(seqs[r] - 1 for r in before.values())]
    )
    done = _applied_sequences(lake, journal.name, watermark)
    fresh = [c for c in emitted if seqs[c[0]] not in done]
    report.already_applied = len(emitted) - len(fresh)
    _kill_point("before_append")
    if fresh:
        log = _change_rows(table, journal.name, image_cols, fresh, keys, run_id)
        if journal.image_feed == "customers":
            log = _restricted(lake, log, pseudonym_key)
        log = enforce("legacy_cdc", f"{journal.name}_changes", log)
        write_deltalake(changes_path(lake, journal.name), log, mode="append")
    report.applied = len(fresh)
    _kill_point("after_append")
    state["watermark"] = new_watermark
    state["gap"] = (
        {"from": gap[0], "to": gap[1], "detected_at": datetime.now(UTC).isoformat()}
        if gap
        else None
    )
    save_state(lake, journal.name, state)
    _kill_point("after_state")
    report.watermark, report.gap = new_watermark, gap
    return report


def _restricted(lake: Lake, log: pa.Table, key: bytes) -> pa.Table:
    """Journal images of customers on the restriction register land pseudonymised, the
    before-image included (see compliance/restrictions.py)."""
    from pipelines.compliance.restrictions import (
        pseudonymise_rows,
        restrict_batch,
        restricted_customers,
    )

    customers = restricted_customers(lake)
    if not customers:
        return log
    if not key:
        raise JournalError("customers are on the restriction register: the pseudonym key is needed")
    log = restrict_batch(log, customers, key)
    if "before_image" in log.column_names:
        keys = pa.array(sorted(customers), log["cm_cust_no"].type)
        mask = pc.fill_null(pc.is_in(log["cm_cust_no"], keys), False)
        i = log.column_names.index("before_image")
        log = log.set_column(i, "before_image", pseudonymise_rows(log["before_image"], key, mask))
    return log


def _change_rows(
    table: pa.Table,
    journal: str,
    image_cols: list[str],
    changes: list[tuple[int, int | None, str]],
    keys: list[str],
    run_id: str,
) -> pa.Table:
    """The change-log rows: meta columns, the after-image, and updates' before-image as a
    typed struct (null for inserts and deletes)."""
    rows = pa.array([c[0] for c in changes], pa.int64())
    prior = pa.array([c[1] for c in changes], pa.int64())
    n = len(changes)
    ccid = table["joccid"].take(rows)
    images = table.select(image_cols)
    before_cols = images.take(prior)  # null index → null row
    before = pa.StructArray.from_arrays(
        [before_cols[c].combine_chunks() for c in image_cols],
        names=image_cols,
        mask=pc.is_null(prior),
    )
    now = datetime.now(UTC)
    columns = {
        "journal": pa.array([journal] * n),
        "sequence": pc.cast(table["joseqn"].take(rows), pa.int64()),
        "entry_type": table["joentt"].take(rows),
        "operation": pa.array([c[2] for c in changes]),
        "journal_ts": table["jotstp"].take(rows),
        "job": table["jojob"].take(rows),
        "user_name": table["jouser"].take(rows),
        "program": table["jopgm"].take(rows),
        "object": table["joobj"].take(rows),
        "commit_cycle": pc.if_else(pc.equal(ccid, 0), None, pc.cast(ccid, pa.int64())),
        "record_key": pa.array(keys).take(rows),
        "source_file": table["source_file"].take(rows),
        "image_errors": table["image_errors"].take(rows),
        "before_image": before,
        **{c: images[c].take(rows) for c in image_cols},
        "applied_run_id": pa.array([run_id] * n),
        "applied_at": pa.array([now] * n, pa.timestamp("us", "UTC")),
    }
    return pa.table(columns)


def acknowledge_gap(lake: Lake, journal: str, low: int, high: int) -> dict:
    """An operator accepts that sequences low..high will never arrive."""
    state = load_state(lake, journal)
    state["acknowledged_gaps"].append([low, high])
    save_state(lake, journal, state)
    return state
