"""`ledgerbridge sync-crm`: push changed finance status values to the CRM, reverse-ETL style.

Only values that differ from the last successful push are sent (the pushed values are kept
in the lake, `ops/crm_sync_state`), in batches of the connector's size; the CRM client
retries 429s. A batch replayed after a crash sets the same values again, so replays are
harmless; state is saved every few batches and at the end. Every record sent gets a row in
the sync log (`ops/crm_sync_log`, Delta): run id, object, operation, fields changed, status,
error reason. Records the CRM refused are not marked as pushed, so the next run retries them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.crm.connector import CrmConnector, RecordUpdate
from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake
from pipelines.writeback import finance_status

OBJECT_TYPE = "companies"
FLUSH_BATCHES = 20  # state and log written every this many batches (and at the end)

STATE_SCHEMA = pa.schema(
    [
        ("crm_company_id", pa.string()),
        ("customer_number", pa.int64()),
        ("pushed_values", pa.string()),  # JSON: property → value as the CRM holds it
        ("pushed_at", pa.timestamp("us", tz="UTC")),
        ("run_id", pa.string()),
    ]
)
LOG_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("synced_at", pa.timestamp("us", tz="UTC")),
        ("object_type", pa.string()),
        ("object_id", pa.string()),
        ("customer_number", pa.int64()),
        ("operation", pa.string()),
        ("fields_changed", pa.list_(pa.string())),
        ("status", pa.string()),
        ("error_reason", pa.string()),
    ]
)


@dataclass(frozen=True)
class Change:
    company_id: str
    customer_number: int
    before: dict[str, str]  # the changed properties' last pushed values ("" if never)
    after: dict[str, str]


@dataclass
class SyncSummary:
    run_id: str
    dry_run: bool
    matched_companies: int = 0
    unchanged: int = 0
    changed: int = 0
    updated: int = 0
    failed: int = 0
    properties_created: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # a few distinct reasons, for people


def state_path(lake: Lake) -> str:
    return str(lake.crm_sync_state)


def log_path(lake: Lake) -> str:
    return str(lake.crm_sync_log)


def load_state(lake: Lake) -> dict[str, dict[str, str]]:
    """CRM company id → the values last pushed successfully."""
    try:
        table = DeltaTable(state_path(lake)).to_pyarrow_table(
            columns=["crm_company_id", "pushed_values"]
        )
    except TableNotFoundError:
        return {}
    return {
        cid: json.loads(values)
        for cid, values in zip(
            table["crm_company_id"].to_pylist(), table["pushed_values"].to_pylist(), strict=True
        )
    }


def plan_changes(
    desired: dict[str, tuple[int, dict[str, str]]], state: dict[str, dict[str, str]]
) -> list[Change]:
    """Per company, the properties whose value differs from the last push."""
    changes = []
    for cid, (customer, values) in desired.items():
        pushed = state.get(cid, {})
        after = {k: v for k, v in values.items() if pushed.get(k) != v}
        if after:
            changes.append(Change(cid, customer, {k: pushed.get(k, "") for k in after}, after))
    # a company written before that matches no finance customer any more (the customer was
    # deleted in finance, or the match changed): its finance properties are cleared, never
    # left stale
    for cid, pushed in state.items():
        if cid in desired:
            continue
        after = {k: "" for k, v in pushed.items() if v != ""}
        if after:
            number = pushed.get("lb_finance_customer_number") or "0"
            changes.append(Change(cid, int(number), {k: pushed[k] for k in after}, after))
    return changes


def _batches(changes: list[Change], size: int) -> Iterator[list[Change]]:
    for i in range(0, len(changes), size):
        yield changes[i : i + size]


def _save(lake: Lake, state_rows: list[dict], log_rows: list[dict]) -> None:
    if log_rows:
        fence()
        write_deltalake(log_path(lake), pa.Table.from_pylist(log_rows, LOG_SCHEMA), mode="append")
    if not state_rows:
        return
    source = pa.Table.from_pylist(state_rows, STATE_SCHEMA)
    try:
        target = DeltaTable(state_path(lake))
    except TableNotFoundError:
        fence()
        write_deltalake(state_path(lake), source)
        return
    fence()
    (
        target.merge(
            source,
            predicate="t.crm_company_id = s.crm_company_id",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )


def sync_crm(
    lake: Lake,
    connector: CrmConnector,
    run_id: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[SyncSummary, list[Change]]:
    """Push what changed; returns the summary and the changes (sent, or for a dry run, due)."""
    summary = SyncSummary(run_id, dry_run)
    desired = finance_status.desired_values(lake)
    state = load_state(lake)
    changes = plan_changes(desired, state)
    summary.matched_companies = len(desired)
    summary.changed = len(changes)
    summary.unchanged = len(desired) - len(changes)
    if dry_run:
        return summary, changes
    if changes:
        summary.properties_created = connector.ensure_properties(
            OBJECT_TYPE, finance_status.GROUP, list(finance_status.PROPERTIES)
        )
    state_rows: list[dict] = []
    log_rows: list[dict] = []
    echoes: dict[str, str] = {}
    for n, batch in enumerate(_batches(changes, connector.batch_size), start=1):
        outcomes = connector.update(
            OBJECT_TYPE, [RecordUpdate(c.company_id, c.after) for c in batch]
        )
        now = datetime.now(UTC)
        for change, outcome in zip(batch, outcomes, strict=True):
            log_rows.append(
                {
                    "run_id": run_id,
                    "synced_at": now,
                    "object_type": OBJECT_TYPE,
                    "object_id": change.company_id,
                    "customer_number": change.customer_number,
                    "operation": "clear" if not any(change.after.values()) else "update",
                    "fields_changed": sorted(change.after),
                    "status": "ok" if outcome.ok else "error",
                    "error_reason": outcome.error,
                }
            )
            if outcome.ok:
                summary.updated += 1
                if outcome.updated_at:
                    echoes[str(change.company_id)] = outcome.updated_at
                pushed = state.get(change.company_id, {}) | change.after
                state[change.company_id] = pushed
                state_rows.append(
                    {
                        "crm_company_id": change.company_id,
                        "customer_number": change.customer_number,
                        "pushed_values": json.dumps(pushed, sort_keys=True),
                        "pushed_at": now,
                        "run_id": run_id,
                    }
                )
            else:
                summary.failed += 1
                if (
                    outcome.error
                    and len(summary.errors) < 5
                    and outcome.error not in summary.errors
                ):
                    summary.errors.append(outcome.error)
        if progress:
            progress(len(batch))
        if n % FLUSH_BATCHES == 0:
            _save(lake, state_rows, log_rows)
            state_rows, log_rows = [], []
    _save(lake, state_rows, log_rows)
    if echoes:
        record_echoes(lake, echoes)
    return summary, changes


def record_echoes(lake: Lake, echoes: dict[str, str]) -> None:
    """Remember the CRM's modification time of each company just written: the next CRM
    extract skips a company still at that time (nothing but our own write changed it)."""
    import json

    from pipelines.lake.storage import write_text_atomically

    path = lake.crm_writeback_echoes
    known = json.loads(path.read_text()) if path.exists() else {}
    write_text_atomically(path, json.dumps(known | echoes))
