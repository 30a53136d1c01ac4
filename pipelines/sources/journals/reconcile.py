"""A full extract against the journal-maintained state: the drift report, and re-baselining.

Both sides are compared at the same point: the state the journals give at the sequence the
extract was taken at (default: the applied watermark). Rows only on one side and columns
whose values differ are reported (`ops/cdc_drift`, Delta). Re-baselining takes the extract
as the new baseline at that sequence, after which the journals apply on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.contracts import enforce
from pipelines.lake import Lake
from pipelines.sources.journals.apply import base_path, changes_path, load_state
from pipelines.sources.journals.feeds import JournalFeed

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
    seq = state["watermark"] if sequence is None else sequence
    date, extract = _latest_extract(lake, journal, extract_date)
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
        write_deltalake(
            str(lake.ops / "cdc_drift"), pa.Table.from_pylist(rows, DRIFT_SCHEMA), mode="append"
        )
    return DriftReport(journal.name, date, seq, len(set(extract) | set(journaled)), diffs)


def compact(lake: Lake, journal: JournalFeed) -> int:
    """Write the journal-maintained current state as a plain Delta table
    (`bronze/legacy_cdc/<table>`) for readers that want it materialised; returns its rows.

    A full rewrite, so it runs after applying (and can be scheduled less often); applying
    itself only appends to the change log."""
    table = current_state(lake, journal, load_state(lake, journal.name)["watermark"])
    table = enforce("legacy_cdc", journal.name, table)
    write_deltalake(
        str(lake.bronze / "legacy_cdc" / journal.name),
        table,
        mode="overwrite",
        schema_mode="overwrite",
    )
    return table.num_rows
