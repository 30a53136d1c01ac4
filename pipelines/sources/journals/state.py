"""The legacy state every reader uses: the latest full extract plus the journal after it.

Rule of truth. The state of a journaled file (customer master, items ledger) is the latest
full extract plus every journal entry after that extract's journal position, in sequence
order. The position comes from the extract's header (the journal sequence at snapshot
time); a feed without one follows its declared rule (`Feed.journal_position_rule`). Entries
at or before the position are in the extract already and are never applied twice.

A newer full extract re-baselines by itself: it is first compared with the state the
journals produced up to its position — differences go to `ops/cdc_drift` and the run
summary — and then the extract wins. The state is written to
`bronze/legacy_cdc/<table>` (Delta) with its lineage columns, and one row per journaled file
in `bronze/legacy_cdc/positions` says where it stands (baseline extract and position,
journal applied through, as-of date). dbt's staging models read these, so every mart, gold,
the CRM write-back and the API see the same state.

Writes happen only when something changed: a new extract rewrites the state (a full reload
anyway); new journal changes are merged by key (upsert, delete); otherwise nothing is
written, so a second run with no new input adds no Delta version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import polars as pl
import pyarrow as pa
import structlog
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake
from pipelines.sources.journals import feeds as jf
from pipelines.sources.journals.apply import (
    changes_path,
    ensure_change_log,
    extract_positions,
    load_state,
    rebaseline,
    save_state,
)

log = structlog.get_logger(__name__)
LINEAGE = ("_source_file", "_record_number", "_errors", "_extract_date")
STATE_COLUMNS = ("_journal_sequence", "_changed_at")
POSITIONS_SCHEMA = pa.schema(
    [
        ("journal", pa.string()),
        ("baseline_extract_date", pa.date32()),
        ("baseline_sequence", pa.int64()),
        ("position_declared", pa.bool_()),
        ("applied_through_sequence", pa.int64()),
        ("applied_through_at", pa.timestamp("us", "UTC")),
        ("as_of_date", pa.date32()),
        ("state_rows", pa.int64()),
    ]
)


@dataclass
class StateReport:
    journal: str
    rebaselined_to: str | None = None  # extract date adopted this run
    drift: object | None = None  # DriftReport when a newer extract was compared
    drift_unverified: str | None = None  # why the comparison could not cover the position
    merged: int = 0  # keys changed in the state this run
    rows: int = 0
    written: bool = False
    notes: list[str] = field(default_factory=list)


def state_table_path(lake: Lake, journal: str) -> str:
    return str(lake.legacy_cdc / journal)


def positions_path(lake: Lake) -> str:
    return str(lake.cdc_positions)


def _extract_rows(lake: Lake, journal: jf.JournalFeed, extract_date: object) -> pl.DataFrame:
    """The full extract of that date as landed (image columns and lineage)."""
    dt = DeltaTable(str(lake.bronze_table("legacy", journal.image.name)))
    table = dt.to_pyarrow_table(filters=[("_extract_date", "=", extract_date)])
    return pl.from_arrow(table)


def _changes(lake: Lake, journal: jf.JournalFeed, after: int, through: int) -> pl.DataFrame:
    """The latest applied change of each record in (after, through], in sequence order."""
    try:
        dt = DeltaTable(changes_path(lake, journal.name))
    except TableNotFoundError:
        return pl.DataFrame()
    table = dt.to_pyarrow_table(filters=[("sequence", ">", after), ("sequence", "<=", through)])
    if table.num_rows == 0:
        return pl.DataFrame()
    return pl.from_arrow(table).sort("sequence").unique("record_key", keep="last")


def _as_state_rows(changes: pl.DataFrame, columns: list[str], extract_date: object) -> pl.DataFrame:
    """Change rows in the state's shape: the after-image with the journal as its lineage."""
    return changes.select(
        *[c for c in columns if not c.startswith("_")],
        pl.col("source_file").alias("_source_file"),
        pl.col("sequence").alias("_record_number"),
        pl.col("image_errors").alias("_errors"),
        pl.lit(extract_date, pl.Date).alias("_extract_date"),
        pl.col("sequence").alias("_journal_sequence"),
        pl.col("journal_ts").alias("_changed_at"),
    )


def _full_state(
    lake: Lake, journal: jf.JournalFeed, extract_date: object, position: int, through: int
) -> pl.DataFrame:
    base = _extract_rows(lake, journal, extract_date)
    base = base.with_columns(
        pl.lit(None, pl.Int64).alias("_journal_sequence"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("_changed_at"),
    )
    columns = base.columns
    latest = _changes(lake, journal, position, through)
    if latest.height == 0:
        return base
    key = journal.key
    untouched = base.filter(~pl.col(key).cast(pl.String).is_in(latest["record_key"].implode()))
    live = _as_state_rows(latest.filter(pl.col("operation") != "delete"), columns, extract_date)
    return pl.concat([untouched, live.select(columns)], how="vertical_relaxed")


def _merge(lake: Lake, journal: jf.JournalFeed, latest: pl.DataFrame, extract_date: object) -> int:
    """Upsert and delete the changed keys only (the untouched rows stay where they are)."""
    dt = DeltaTable(state_table_path(lake, journal.name))
    columns = [f.name for f in dt.schema().fields]
    rows = _as_state_rows(latest, columns, extract_date).select(columns)
    source = rows.with_columns(latest["operation"].alias("_operation")).to_arrow()
    target_schema = pa.schema(dt.schema().to_arrow())
    source = source.cast(pa.schema([*target_schema, pa.field("_operation", pa.string())]))
    key = journal.key
    fence()
    (
        dt.merge(
            source,
            predicate=f"t.{key} = s.{key}",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_delete(predicate="s._operation = 'delete'")
        .when_matched_update(updates={c: f"s.{c}" for c in columns})
        .when_not_matched_insert(
            updates={c: f"s.{c}" for c in columns}, predicate="s._operation <> 'delete'"
        )
        .execute()
    )
    return rows.height


def refresh_state(lake: Lake, journal: jf.JournalFeed, run_id: str) -> StateReport:
    """Bring the state of one journaled file up to its latest extract and journal."""
    from pipelines.sources.journals.reconcile import drift

    report = StateReport(journal.name)
    state = load_state(lake, journal.name)
    positions = extract_positions(lake, journal, state)
    if not positions:
        return report  # nothing has landed yet
    latest = positions[-1]
    baseline = state["baseline"]
    done = state.get("materialised")
    rebuild = False
    if baseline is None or str(latest.extract_date) > baseline["extract_date"]:
        if baseline is not None:
            through = int(state["watermark"] or 0)
            compared_at = min(latest.sequence, through)
            if through < latest.sequence:
                report.drift_unverified = (
                    f"the journal is applied through {through:,} only; the extract was taken "
                    f"at {latest.sequence:,} (changes in between compared as missing)"
                )
            report.drift = drift(lake, journal, run_id, str(latest.extract_date), compared_at)
            state.setdefault("drift_checks", {})[str(latest.extract_date)] = {
                "run_id": run_id,
                "sequence": compared_at,
                "differences": len(report.drift.differences),
            }
        rebaseline(lake, journal, latest.extract_date, latest.sequence, state)
        report.rebaselined_to = str(latest.extract_date)
        rebuild = True
    elif done is None or done.get("extract_date") != state["baseline"]["extract_date"]:
        rebuild = True
    ensure_change_log(lake, journal)
    through = int(state["watermark"] or 0)
    extract_date = date.fromisoformat(state["baseline"]["extract_date"])
    position = int(state["baseline"]["sequence"])
    if rebuild:
        table = _full_state(lake, journal, extract_date, position, through)
        fence()
        write_deltalake(
            state_table_path(lake, journal.name),
            table.to_arrow(),
            mode="overwrite",
            schema_mode="overwrite",
        )
        report.rows, report.written = table.height, True
    elif through > int(done["sequence"]):
        latest_changes = _changes(lake, journal, int(done["sequence"]), through)
        if latest_changes.height:
            report.merged = _merge(lake, journal, latest_changes, extract_date)
            report.written = True
    if report.written or done is None or done.get("sequence") != through:
        state["materialised"] = {"extract_date": str(extract_date), "sequence": through}
        save_state(lake, journal.name, state)
    return report


def _applied_through_at(lake: Lake, journal: str, sequence: int) -> datetime | None:
    try:
        dt = DeltaTable(changes_path(lake, journal))
    except TableNotFoundError:
        return None
    t = dt.to_pyarrow_table(columns=["journal_ts"], filters=[("sequence", "<=", sequence)])
    if t.num_rows == 0:
        return None
    return max(t["journal_ts"].to_pylist())


def write_positions(lake: Lake) -> bool:
    """One row per journaled file: where its state stands. Written only when it changed."""
    rows = []
    for journal in jf.JOURNALS:
        state = load_state(lake, journal.name)
        if state["baseline"] is None:
            continue
        baseline_date = date.fromisoformat(state["baseline"]["extract_date"])
        seq = int(state["baseline"]["sequence"])
        through = int(state["watermark"] or 0)
        at = _applied_through_at(lake, journal.name, through) if through > seq else None
        positions = extract_positions(lake, journal, state)
        declared = next((p.declared for p in positions if p.extract_date == baseline_date), True)
        try:
            dt = DeltaTable(state_table_path(lake, journal.name))
            n = dt.to_pyarrow_table(columns=[journal.key]).num_rows
        except TableNotFoundError:
            n = 0
        rows.append(
            {
                "journal": journal.name,
                "baseline_extract_date": baseline_date,
                "baseline_sequence": seq,
                "position_declared": declared,
                "applied_through_sequence": through,
                "applied_through_at": at,
                # the state is as of the later of the extract's date and the last change
                "as_of_date": max(baseline_date, at.astimezone(UTC).date())
                if at
                else baseline_date,
                "state_rows": n,
            }
        )
    if not rows:
        return False
    table = pa.Table.from_pylist(rows, POSITIONS_SCHEMA)
    try:
        current = DeltaTable(positions_path(lake)).to_pyarrow_table()
        if current.sort_by("journal").to_pylist() == table.sort_by("journal").to_pylist():
            return False
    except TableNotFoundError:
        pass
    fence()
    write_deltalake(positions_path(lake), table, mode="overwrite", schema_mode="overwrite")
    return True
