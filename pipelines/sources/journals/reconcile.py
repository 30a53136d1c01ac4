"""A full extract against the journal-maintained state: the drift report.

Both sides are compared at the same point: the state the journals give at the sequence the
extract was taken at (its journal position, see state.py). Rows only on one side and columns
whose values differ are reported (`ops/cdc_drift`, Delta). A newer extract is compared this
way when it lands and then adopted as the baseline (the extract wins); asking again later
shows what was recorded then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.contracts import enforce
from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake
from pipelines.sources.journals.apply import base_path, changes_path, load_state
from pipelines.sources.journals.feeds import JournalFeed
from pipelines.sources.journals.read import JournalError

DRIFT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("checked_at", pa.timestamp("us", "UTC")),
        ("journal", pa.string()),
        ("extract_date", pa.string()),
        ("sequence", pa.int64()),
        ("record_key", pa.string()),
        ("kind", pa.string()),  # only_in_extract, only_in_journal_state, value_differs
        ("column_name", pa.string()),
        ("extract_value", pa.string()),
        ("journal_value", pa.string()),
    ]
)


@dataclass
class DriftReport:
    journal: str
    extract_date: str
    sequence: int
    rows_compared: int
    differences: list[dict]
    note: str = ""  # e.g. shown from the record made when the extract was adopted


def current_state(lake: Lake, journal: JournalFeed, sequence: int) -> pa.Table:
    """The image columns as the baseline plus the changes up to `sequence` leave them: the
    latest change of a record replaces its baseline row, a delete removes it."""
    import polars as pl

    base = pl.from_arrow(DeltaTable(base_path(lake, journal.name)).to_pyarrow_table())
    baseline_seq = int(base["baseline_sequence"].max() or 0) if base.height else 0
    image_cols = [c for c in base.columns if not c.startswith("baseline_")]
    current = base.select(image_cols)
    try:
        changes = pl.from_arrow(
            DeltaTable(changes_path(lake, journal.name)).to_pyarrow_table(
                filters=[("sequence", ">", baseline_seq), ("sequence", "<=", sequence)]
            )
        )
    except TableNotFoundError:  # no change log yet
        return current.to_arrow()
    if changes.height:
        latest = changes.sort("sequence").unique("record_key", keep="last")
        current = pl.concat(
            [
                current.filter(
                    ~pl.col(journal.key).cast(pl.String).is_in(latest["record_key"].implode())
                ),
                latest.filter(pl.col("operation") != "delete").select(image_cols),
            ],
            how="vertical_relaxed",
        )
    return current.to_arrow()


def state_at(lake: Lake, journal: JournalFeed, sequence: int) -> dict[str, dict]:
    """Key → row (image columns) at journal `sequence` (see current_state)."""
    return {str(r[journal.key]): r for r in current_state(lake, journal, sequence).to_pylist()}


def _latest_extract(lake: Lake, journal: JournalFeed, extract_date: str | None) -> tuple[str, dict]:
    table = DeltaTable(str(lake.bronze_table("legacy", journal.image.name))).to_pyarrow_table()
    dates = table["_extract_date"]
    wanted = pc.max(dates).as_py() if extract_date is None else extract_date
    rows = table.filter(pc.equal(pc.cast(dates, pa.string()), str(wanted)))
    cols = [c for c in rows.column_names if not c.startswith("_")]
    return str(wanted), {str(r[journal.key]): r for r in rows.select(cols).to_pylist()}


def drift(
    lake: Lake,
    journal: JournalFeed,
    run_id: str,
    extract_date: str | None = None,
    sequence: int | None = None,
) -> DriftReport:
    state = load_state(lake, journal.name)
    date, extract = _latest_extract(lake, journal, extract_date)
    if sequence is None:
        from pipelines.sources.journals.apply import extract_positions

        known = {str(p.extract_date): p.sequence for p in extract_positions(lake, journal, state)}
        if date not in known:
            raise JournalError(f"{journal.name}: no loaded full extract of {date}")
        sequence = known[date]
        baseline = state["baseline"]
        if baseline is not None and baseline["extract_date"] >= date:
            return _recorded(lake, journal, date, sequence, len(extract), state)
    seq = sequence
    journaled = state_at(lake, journal, seq)
    diffs: list[dict] = []
    for key in sorted(set(extract) | set(journaled)):
        a, b = extract.get(key), journaled.get(key)
        if b is None:
            diffs.append({"record_key": key, "kind": "only_in_extract"})
        elif a is None:
            diffs.append({"record_key": key, "kind": "only_in_journal_state"})
        else:
            for col in a:
                if col in b and a[col] != b[col]:
                    diffs.append(
                        {
                            "record_key": key,
                            "kind": "value_differs",
                            "column_name": col,
                            "extract_value": str(a[col]),
                            "journal_value": str(b[col]),
                        }
                    )
    if diffs:
        now = datetime.now(UTC)
        rows = [
            {
                "run_id": run_id,
                "checked_at": now,
                "journal": journal.name,
                "extract_date": date,
                "sequence": seq,
                **d,
            }
            for d in diffs
        ]
        fence()
        write_deltalake(
            str(lake.cdc_drift), pa.Table.from_pylist(rows, DRIFT_SCHEMA), mode="append"
        )
    return DriftReport(journal.name, date, seq, len(set(extract) | set(journaled)), diffs)


def _recorded(
    lake: Lake, journal: JournalFeed, date: str, sequence: int, rows: int, state: dict
) -> DriftReport:
    """The drift recorded when this extract was compared and adopted as the baseline."""
    try:
        table = DeltaTable(str(lake.cdc_drift)).to_pyarrow_table()
        found = [
            r
            for r in table.to_pylist()
            if r["journal"] == journal.name and r["extract_date"] == date
        ]
    except TableNotFoundError:
        found = []
    check = state.get("drift_checks", {}).get(date)
    latest_run = check["run_id"] if check else None
    diffs = [
        {k: r[k] for k in ("record_key", "kind", "column_name", "extract_value", "journal_value")}
        for r in found
        if r["run_id"] == latest_run
    ]
    return DriftReport(
        journal.name,
        date,
        sequence,
        rows,
        diffs,
        f"extract {date} is the baseline; as recorded when it was adopted"
        + ("" if latest_run else " (the first baseline: nothing earlier to compare with)"),
    )


def compact(lake: Lake, journal: JournalFeed) -> int:
    """Write the journal-maintained current state as a plain Delta table
    (`bronze/legacy_cdc/<table>`) for readers that want it materialised; returns its rows.

    A full rewrite, so it runs after applying (and can be scheduled less often); applying
    itself only appends to the change log."""
    table = current_state(lake, journal, load_state(lake, journal.name)["watermark"])
    table = enforce("legacy_cdc", journal.name, table)
    fence()
    write_deltalake(
        str(lake.legacy_cdc / journal.name),
        table,
        mode="overwrite",
        schema_mode="overwrite",
    )
    return table.num_rows
