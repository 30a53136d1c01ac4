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
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.contracts import enforce
from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake
from pipelines.lake.storage import write_text_atomically
from pipelines.sources.journals import feeds as jf
from pipelines.sources.journals.read import (
    ENTRY_META,
    HEADER,
    Entries,
    JournalError,
    read_entries,
)


@dataclass
class ApplyReport:
    journal: str
    entries_read: int = 0
    applied: int = 0  # change rows appended this run
    already_applied: int = 0
    rolled_back: int = 0
    pending: int = 0  # entries of transactions still open
    quarantined: int = 0  # entries whose image did not decode (key or amount): not applied
    before_baseline: int = 0  # entries at or before the baseline's position: in it already
    watermark: int = 0
    gap: tuple[int, int] | None = None
    files: list[str] = field(default_factory=list)
    # receiver → outcome → entries (read = applied + quarantined + the other outcomes)
    per_receiver: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # receiver → why not applied


def cdc_root(lake: Lake) -> Path:
    return lake.legacy_cdc


def changes_path(lake: Lake, journal: str) -> str:
    return str(cdc_root(lake) / f"{journal}_changes")


def base_path(lake: Lake, journal: str) -> str:
    return str(cdc_root(lake) / f"{journal}_base")


def quarantine_path(lake: Lake) -> str:
    return str(cdc_root(lake) / "quarantine")


def state_path(lake: Lake, journal: str) -> Path:
    return lake.cdc_state(journal)


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


@dataclass(frozen=True)
class ExtractPosition:
    """A landed full extract and the journal sequence it was taken at."""

    extract_date: date
    sequence: int
    declared: bool  # True: from the file's header; False: from the feed's rule


def extract_positions(lake: Lake, journal: jf.JournalFeed, state: dict) -> list[ExtractPosition]:
    """Every loaded full extract of the journaled feed, oldest first, with its position.

    The header's journal sequence where the feed has one; else the feed's rule: "applied"
    takes the extract as holding every entry applied when it landed (the watermark)."""
    try:
        log = DeltaTable(str(lake.bronze_table("legacy", "file_log"))).to_pyarrow_table()
    except TableNotFoundError:
        return []
    rows = [
        r
        for r in log.to_pylist()
        if r["feed"] == journal.image_feed and r["status"] == "loaded" and r["extract_date"]
    ]
    rows.sort(key=lambda r: (r["extract_date"], r["processed_at"]))
    out: list[ExtractPosition] = []
    for r in rows:
        seq = r.get("journal_sequence")
        if seq is None:
            if journal.image.journal_position_rule != "applied":
                raise JournalError(
                    f"feed {journal.image_feed}: journal_position_rule "
                    f"{journal.image.journal_position_rule!r} is not one ledgerbridge knows "
                    "(applied)"
                )
            out.append(ExtractPosition(r["extract_date"], int(state["watermark"] or 0), False))
        else:
            out.append(ExtractPosition(r["extract_date"], int(seq), True))
    return out


def ensure_baseline(lake: Lake, journal: jf.JournalFeed, state: dict) -> bool:
    """First apply: the latest full extract in bronze is the baseline at its position."""
    if state["baseline"] is not None:
        return False
    positions = extract_positions(lake, journal, state)
    if not positions:
        raise JournalError(
            f"journal {journal.name}: no full extract of {journal.image_feed} has landed; "
            "the journal applies on top of one"
        )
    latest = positions[-1]
    rebaseline(lake, journal, latest.extract_date, latest.sequence, state)
    return True


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
    fence()
    write_deltalake(base_path(lake, journal.name), base, mode="overwrite", schema_mode="overwrite")
    state["baseline"] = {"extract_date": str(extract_date), "sequence": sequence}
    # entries up to the extract's position are in it; the journal goes on after the later of
    # the two (a watermark beyond it keeps the changes already logged after the position)
    state["watermark"] = max(sequence, int(state["watermark"] or 0))
    if state.get("gap") and state["gap"]["to"] <= sequence:
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
    report.rejected = entries.rejected
    if entries.table.num_rows == 0:
        report.watermark = state["watermark"] or 0
        _account(report, entries, None)
        _log_receivers(lake, journal, entries, run_id)
        return report
    if ensure_baseline(lake, journal, state):
        save_state(lake, journal.name, state)
    watermark = state["watermark"]
    baseline_seq = int(state["baseline"]["sequence"])
    all_seqs = entries.table["joseqn"].to_numpy()
    outcome = np.full(len(all_seqs), "pending", dtype=object)
    logged = _applied_sequences(lake, journal.name, min(baseline_seq, watermark) - 1)
    early = all_seqs <= watermark
    for i in np.flatnonzero(early):
        outcome[i] = (
            "already_applied"
            if int(all_seqs[i]) in logged or all_seqs[i] > baseline_seq
            else "before_baseline"
        )
    control = np.isin(entries.table["joentt"].to_numpy(zero_copy_only=False), jf.CONTROL)
    outcome[early & control] = "control"
    report.before_baseline = int((outcome == "before_baseline").sum())
    first = int(np.count_nonzero(early))
    table = entries.table.slice(first)
    report.entries_read = entries.table.num_rows
    image_cols = [c for c in table.column_names if c not in (*HEADER, *ENTRY_META)]
    # Only the small header columns are walked in Python; images move as Arrow columns.
    seqs = table["joseqn"].to_pylist()
    kinds = table["joentt"].to_pylist()
    ccids = table["joccid"].to_pylist()
    bad = table["quarantine_reason"].is_valid().to_pylist()
    keys = pc.cast(table[journal.key], pa.string()).to_pylist()
    expected = watermark + 1
    open_txns: dict[int, list[tuple[int, int | None, str]]] = {}
    open_since: dict[int, int] = {}
    before: dict[str, int] = {}  # key → row of the UB image awaiting its UP
    emitted: list[tuple[int, int | None, str]] = []  # (row, before-image row, operation)
    quarantined: list[int] = []
    rolled: list[tuple[int, int | None, str]] = []
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
        if kind in jf.CONTROL:
            outcome[first + row] = "control"
        if kind == jf.COMMIT_START:
            open_txns.setdefault(ccid, [])
            open_since.setdefault(ccid, seq)
            continue
        if kind == jf.COMMIT:
            emitted += open_txns.pop(ccid, [])
            open_since.pop(ccid, None)
            continue
        if kind == jf.ROLLBACK:
            rolled += open_txns.pop(ccid, [])
            open_since.pop(ccid, None)
            continue
        key = keys[row]
        if bad[row]:  # never applied with nulls: quarantined with its reason
            quarantined.append(row)
            if kind == jf.AFTER_IMAGE:
                before.pop(key, None)
            continue
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
    report.rolled_back = len(rolled)
    # the watermark never passes the start of a transaction still open, nor a before-image
    # whose after-image has not arrived
    new_watermark = min(
        [last, *(s - 1 for s in open_since.values()), *(seqs[r] - 1 for r in before.values())]
    )
    done = _applied_sequences(lake, journal.name, watermark)
    fresh = [c for c in emitted if seqs[c[0]] not in done]
    report.already_applied = len(emitted) - len(fresh)
    for changes, label in ((emitted, "applied"), (rolled, "rolled_back")):
        for r, b, _ in changes:
            outcome[first + r] = label
            if b is not None:
                outcome[first + b] = label
    for r in quarantined:
        outcome[first + r] = "quarantined"
    report.quarantined = len(quarantined)
    _kill_point("before_append")
    if quarantined:
        _quarantine(lake, journal, table, quarantined, run_id)
    if fresh:
        log = _change_rows(table, journal.name, image_cols, fresh, keys, run_id)
        if journal.image_feed == "customers":
            log = _restricted(lake, log, pseudonym_key)
        log = enforce("legacy_cdc", f"{journal.name}_changes", log)
        fence()
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
    _account(report, entries, outcome)
    _log_receivers(lake, journal, entries, run_id)
    return report


def _log_receivers(lake: Lake, journal: jf.JournalFeed, entries: Entries, run_id: str) -> None:
    """Every receiver's outcome into the journals' file log (refused ones with why)."""
    from pipelines.sources.journals.receiver_log import record_receivers

    record_receivers(
        lake, journal.name, entries.fingerprints, entries.entries_per_file, entries.rejected, run_id
    )


def _account(report: ApplyReport, entries: Entries, outcome: object) -> None:
    """Per receiver: what became of every entry it held (an entry re-delivered in an earlier
    receiver counts there; here it is `duplicate`)."""
    per: dict[str, dict[str, int]] = {}
    if outcome is not None and entries.table.num_rows:
        files = entries.table["source_file"].to_pylist()
        for f, o in zip(files, outcome, strict=True):
            d = per.setdefault(f, {})
            d[o] = d.get(o, 0) + 1
    for f, n in entries.entries_per_file.items():
        d = per.setdefault(f, {})
        if f in entries.rejected:
            d["rejected"] = n
            continue
        dup = n - sum(d.values())
        if dup:
            d["duplicate"] = dup
    report.per_receiver = per


QUARANTINE_SCHEMA = pa.schema(
    [
        ("journal", pa.string()),
        ("source_file", pa.string()),
        ("entry_number", pa.int64()),
        ("byte_offset", pa.int64()),
        ("sequence", pa.int64()),
        ("entry_type", pa.string()),
        ("record_key", pa.string()),
        ("reason", pa.string()),
        ("errors", pa.string()),
        ("raw_entry_hex", pa.string()),
        ("run_id", pa.string()),
        ("quarantined_at", pa.timestamp("us", "UTC")),
    ]
)


def _quarantine(
    lake: Lake, journal: jf.JournalFeed, table: pa.Table, rows: list[int], run_id: str
) -> None:
    """Entries whose image did not decode, with file, entry, offset, field and reason and the
    raw bytes, once per entry (a rerun finds them there)."""
    picked = table.take(pa.array(rows, pa.int64()))
    try:
        seen = DeltaTable(quarantine_path(lake)).to_pyarrow_table(columns=["journal", "sequence"])
        known = {
            s
            for j, s in zip(seen["journal"].to_pylist(), seen["sequence"].to_pylist(), strict=True)
            if j == journal.name
        }
    except TableNotFoundError:
        known = set()
    size = None
    out = []
    now = datetime.now(UTC)
    for r in picked.to_pylist():
        if r["joseqn"] in known:
            continue
        size = size or len(r["raw_entry_hex"]) // 2
        out.append(
            {
                "journal": journal.name,
                "source_file": r["source_file"],
                "entry_number": r["entry_number"],
                "byte_offset": (r["entry_number"] - 1) * size,
                "sequence": r["joseqn"],
                "entry_type": r["joentt"],
                "record_key": None if r[journal.key] is None else str(r[journal.key]),
                "reason": r["quarantine_reason"],
                "errors": r["image_errors"],
                "raw_entry_hex": r["raw_entry_hex"],
                "run_id": run_id,
                "quarantined_at": now,
            }
        )
    if out:
        table = enforce("legacy_cdc", "quarantine", pa.Table.from_pylist(out, QUARANTINE_SCHEMA))
        fence()
        write_deltalake(quarantine_path(lake), table, mode="append")


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


def ensure_change_log(lake: Lake, journal: jf.JournalFeed) -> bool:
    """An empty change log where none exists yet, so every reader (dbt's history and
    staging models) finds the table whether or not a receiver has arrived."""
    try:
        DeltaTable(changes_path(lake, journal.name))
        return False
    except TableNotFoundError:
        pass
    base = DeltaTable(base_path(lake, journal.name)).schema().to_arrow()
    image = [f for f in pa.schema(base) if not f.name.startswith("baseline_")]
    header = {
        "joseqn": pa.int64(),
        "joentt": pa.string(),
        "jotstp": pa.timestamp("us", "UTC"),
        "jojob": pa.string(),
        "jouser": pa.string(),
        "jopgm": pa.string(),
        "joobj": pa.string(),
        "joccid": pa.int64(),
        "source_file": pa.string(),
        "image_errors": pa.string(),
    }
    empty = pa.schema([*(pa.field(k, t) for k, t in header.items()), *image]).empty_table()
    log = _change_rows(empty, journal.name, [f.name for f in image], [], [], "")
    log = enforce("legacy_cdc", f"{journal.name}_changes", log)
    fence()
    write_deltalake(changes_path(lake, journal.name), log, mode="append")
    return True


def acknowledge_gap(lake: Lake, journal: str, low: int, high: int) -> dict:
    """An operator accepts that sequences low..high will never arrive."""
    state = load_state(lake, journal)
    state["acknowledged_gaps"].append([low, high])
    save_state(lake, journal, state)
    return state
