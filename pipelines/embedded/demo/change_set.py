"""A change set for an existing demo lake: one more journal receiver per journaled file,
later the same day, touching a given fraction of the rows (credit limits of customers,
payments on open invoices).

It is what the incremental path is measured and tested with (`make bench`, tests): the
receivers continue the sequence where the applied journal stands, carry before- and
after-images built from the rows as the legacy state holds them now, and stay within the
state's as-of day, so only the rows they touch change in the marts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from pipelines.copybook import parse_copybook
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk
from pipelines.embedded.demo import encoding
from pipelines.embedded.demo.journals import _Journal
from pipelines.embedded.demo.legacy_files import COPYBOOK_DIR
from pipelines.lake.paths import Lake
from pipelines.sources.journals.apply import load_state
from pipelines.sources.journals.feeds import journal_by_name
from pipelines.sources.journals.state import state_table_path

PREFIXES = {"customers": "JRNCUST", "open_items": "JRNOPEN"}
AMOUNT_FIELDS = {"customers": "CM-CREDIT-LIMIT", "open_items": "OI-OPEN-AMOUNT"}
TRANSACTION_SIZE = 10


def _extract_images(lake: Lake, name: str) -> tuple[np.ndarray, pa.Array, object]:
    """The latest full extract's detail records and their keys (only the key decoded)."""
    journal = journal_by_name(name)
    feed = journal.image
    layout = parse_copybook((COPYBOOK_DIR / feed.copybook).read_text())[feed.detail_record]
    folder = lake.legacy_landing / feed.folder
    latest = max(folder.glob(feed.file_glob))  # the demo names files by extract date
    raw = np.frombuffer(latest.read_bytes(), dtype=np.uint8).reshape(-1, layout.size)[1:-1]
    key_field = layout.field(journal.key)
    keys_only = replace(layout, fields=[key_field])
    table, _ = decode_chunk(raw, keys_only, DecodeOptions(codepage=feed.codepage))
    keys = pc.cast(table.column(journal.key), pa.string()).combine_chunks()
    return raw, keys, layout


def _receiver_number(folder: Path) -> int:
    numbers = [int(p.stem.rsplit("_R", 1)[-1]) for p in folder.glob("*_R*.dat")]
    return max(numbers, default=0) + 1


def write_change_set(
    lake: Lake,
    fraction: float = 0.01,
    seed: int = 0,
    deletions: int = 0,
    corrected: float = 0.0,
    credit_limits: dict[int, int] | None = None,
) -> dict[str, int]:
    """Write one receiver per journaled file changing `fraction` of its current rows, and
    deleting `deletions` customers that have a CRM match (their companies become prospects
    again: the increment's moved matches). Document changes are payments; a `corrected`
    share of them raise the document's amount instead (an invoice corrected: revenue
    changes). `credit_limits` (customer number → new limit in cents) writes exactly those
    changes instead, to the customer master's journal only (to time one known change).
    Returns the rows changed per journal."""
    rng = np.random.default_rng(seed)
    changed: dict[str, int] = {}
    for name in ("customers",) if credit_limits else ("customers", "open_items"):
        journal = journal_by_name(name)
        state = load_state(lake, name)
        if state["watermark"] is None:
            raise ValueError(f"journal {name} has not been applied yet: run `ledgerbridge run`")
        raw, extract_keys, layout = _extract_images(lake, name)
        key, amount_column = journal.key, AMOUNT_FIELDS[name].lower().replace("-", "_")
        columns = [key, amount_column] + (["oi_amount"] if name == "open_items" else [])
        current = DeltaTable(state_table_path(lake, name)).to_pyarrow_table(columns=columns)
        candidates = current
        if name == "open_items":  # payments go to invoices still open
            candidates = current.filter(pc.greater(current[amount_column], 0))
        position = pc.index_in(pc.cast(candidates[key], pa.string()), value_set=extract_keys)
        candidates = candidates.filter(pc.is_valid(position))
        rows = pc.drop_null(position).to_numpy()
        n = max(1, round(fraction * current.num_rows))
        pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
        if credit_limits:
            wanted = [int(k) for k in candidates[key].to_pylist()]
            pick = np.array([i for i, k in enumerate(wanted) if k in credit_limits], dtype=np.int64)
            if len(pick) != len(credit_limits):
                raise ValueError("a customer to change is not in the latest extract")
        cents = (np.array(candidates[amount_column].to_pylist(), dtype=object)[pick] * 100).astype(
            np.int64
        )
        if credit_limits:
            new_cents = np.array(
                [credit_limits[int(k)] for k in candidates[key].take(pick).to_pylist()],
                dtype=np.int64,
            )
        elif name == "customers":
            new_cents = np.maximum(0, cents + rng.choice([-1, 1], len(pick)) * 500_000)
        else:
            new_cents = np.where(rng.random(len(pick)) < 0.7, 0, cents // 2)
            totals = (
                np.array(candidates["oi_amount"].to_pylist(), dtype=object)[pick] * 100
            ).astype(np.int64)
            fixed = np.zeros(len(pick), dtype=bool)
            fixed[: round(corrected * len(pick))] = True  # the pick is random already
            new_cents = np.where(fixed, cents + 1_000, new_cents)
            new_totals = np.where(fixed, totals + 1_000, totals)
            changed["corrected_documents"] = int(fixed.sum())
        as_of = _as_of(lake, name)
        entry_layout = parse_copybook((COPYBOOK_DIR / journal.copybook).read_text())[
            journal.entry_record
        ]
        entries = 4 * len(pick)  # SC, UB, UP, CM per change at most
        j = _Journal(
            journal,
            entry_layout,
            layout,
            as_of,
            seq=int(state["watermark"]),
            ccid=10_000_000,
            start=timedelta(hours=18),
            step=timedelta(seconds=4 * 3600 / max(1, entries)),
        )
        amount = layout.field(AMOUNT_FIELDS[name])
        before = raw[rows[pick]].copy()
        before[:, amount.offset : amount.offset + amount.size] = encoding.packed(cents, amount.size)
        after = before.copy()
        after[:, amount.offset : amount.offset + amount.size] = encoding.packed(
            new_cents, amount.size
        )
        if name == "open_items":  # the document amount as the state holds it, then corrected
            total = layout.field("OI-AMOUNT")
            span = slice(total.offset, total.offset + total.size)
            before[:, span] = encoding.packed(totals, total.size)
            after[:, span] = encoding.packed(new_totals, total.size)
        for start in range(0, len(pick), TRANSACTION_SIZE):
            j.ccid += 1
            j.entry("SC", None, j.ccid)
            for i in range(start, min(start + TRANSACTION_SIZE, len(pick))):
                j.entry("UB", before[i], j.ccid)
                j.entry("UP", after[i], j.ccid)
            j.entry("CM", None, j.ccid)
        if name == "customers" and deletions:
            matched = _matched_customers(lake, set(candidates[key].take(pick).to_pylist()))
            at = pc.index_in(pa.array([str(k) for k in matched]), value_set=extract_keys)
            doomed = pc.drop_null(at).to_numpy()[:deletions]  # those the extract holds
            j.ccid += 1
            j.entry("SC", None, j.ccid)
            for row in doomed:
                j.entry("DL", raw[row], j.ccid)
            j.entry("CM", None, j.ccid)
            changed["deleted_customers"] = len(doomed)
        folder = lake.legacy_landing / journal.folder
        number = _receiver_number(folder)
        (folder / f"{PREFIXES[name]}_R{number:06d}.dat").write_bytes(b"".join(j.entries))
        changed[name] = len(pick)
    return changed


def _matched_customers(lake: Lake, excluded: set) -> list[int]:
    """Customers with a CRM match in gold, except those changed otherwise."""
    gold = DeltaTable(str(lake.gold / "customers")).to_pyarrow_table(
        columns=["customer_number", "crm_company_id"]
    )
    matched = gold.filter(pc.is_valid(gold["crm_company_id"]))["customer_number"].to_pylist()
    return sorted(k for k in matched if k not in excluded)


def _as_of(lake: Lake, name: str) -> date:
    """The day the state stands at (its last applied change), so the receiver stays in it."""
    try:
        positions = DeltaTable(str(lake.cdc_positions)).to_pyarrow_table()
    except TableNotFoundError:  # nothing applied yet: today
        return datetime.now(UTC).date()
    for row in positions.to_pylist():
        if row["journal"] == name:
            return row["as_of_date"]
    return datetime.now(UTC).date()
