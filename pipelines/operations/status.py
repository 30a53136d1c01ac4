"""Where each source stands, read from what the lake records — for `ledgerbridge status`.

Per source: its position (last legacy file taken; each journal's applied-through sequence;
the CRM search cursor per object type), what waits (landing files not taken yet, journal
gaps and refused receivers, webhook events), when the last change was seen and how long
ago, and the last error the audit log holds for it. Nothing here writes; nothing waits
for a writer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pipelines.lake.paths import Lake


def _age_s(stamp: Any, now: datetime) -> float | None:
    if stamp is None:
        return None
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return round((now - stamp).total_seconds(), 1)


def _last(entries: list[dict], actions: tuple[str, ...], outcomes: tuple[str, ...]) -> dict | None:
    for e in reversed(entries):
        if e["action"] in actions and e["outcome"] in outcomes:
            return e
    return None


def _legacy(lake: Lake, now: datetime) -> dict:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from pipelines.sources.legacy import list_landing_files

    try:
        log = DeltaTable(str(lake.bronze_table("legacy", "file_log"))).to_pyarrow_table()
        rows = sorted(log.to_pylist(), key=lambda r: r["processed_at"])
    except TableNotFoundError:
        rows = []
    taken = {(r["source_file"], r["fingerprint"]) for r in rows}
    waiting = [f.name for f in list_landing_files(lake.url_of(lake.legacy_landing))
               if (f.name, f.fingerprint) not in taken]  # fmt: skip
    last = rows[-1] if rows else None
    return {
        "position": last["source_file"] if last else None,
        "last_change_at": last["processed_at"].isoformat() if last else None,
        "lag_s": _age_s(last["processed_at"], now) if last else None,
        "waiting": len(waiting),
        "waiting_files": waiting[:20],
        "rejected": sum(1 for r in rows if r["status"] == "rejected"),
    }


def _journals(lake: Lake, now: datetime) -> list[dict]:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from pipelines.sources.journals.apply import load_state
    from pipelines.sources.journals.feeds import JOURNALS
    from pipelines.sources.journals.receiver_log import read_receiver_log

    try:
        positions = {
            r["journal"]: r
            for r in DeltaTable(str(lake.cdc_positions)).to_pyarrow_table().to_pylist()
        }
    except TableNotFoundError:
        positions = {}
    receivers = read_receiver_log(lake)
    out = []
    for j in JOURNALS:
        st = load_state(lake, j.name)
        pos = positions.get(j.name, {})
        at = pos.get("applied_through_at")
        gap = st["gap"]
        out.append(
            {
                "journal": j.name,
                "position": st["watermark"],
                "last_change_at": at.isoformat() if at else None,
                "lag_s": _age_s(at, now),
                "gap": f"{gap['from']}-{gap['to']}" if gap else None,
                "waiting": (gap["to"] - gap["from"] + 1) if gap else 0,
                "refused_receivers": [
                    r["receiver"]
                    for r in receivers
                    if r["journal"] == j.name and r["status"] == "rejected"
                ],
            }
        )
    return out


def _crm(lake: Lake, now: datetime) -> dict:
    from pipelines.crm.webhooks import WebhookInbox

    state_file = lake.dlt_pipelines / "ledgerbridge_crm" / "state.json"
    cursors: dict[str, str | None] = {}
    if state_file.exists():
        state = json.loads(state_file.read_text())
        resources = state.get("sources", {}).get("crm", {}).get("resources", {})
        cursors = {name: r.get("cursor") for name, r in resources.items() if "cursor" in r}
    newest = max((c for c in cursors.values() if c), default=None)
    return {
        "position": cursors,
        "last_change_at": newest,
        "lag_s": _age_s(newest, now),
        "webhook_events": len(WebhookInbox(lake.crm_webhook_inbox).events()),
    }


def lake_status(lake: Lake, now: datetime | None = None) -> dict:
    """The whole picture as one JSON-able dict."""
    from pipelines.operations.audit import AuditLog

    now = now or datetime.now(UTC)
    entries = AuditLog(lake).entries()
    last_run = _last(entries, ("pipeline_run",), ("ok", "partial", "error"))
    sources = {
        "legacy": _legacy(lake, now),
        "journals": _journals(lake, now),
        "crm": _crm(lake, now),
    }
    run_error = _last(entries, ("pipeline_run", "run", "watch", "extract", "build"), ("error",))
    sync_error = _last(entries, ("crm_writeback", "sync-crm"), ("error", "partial"))
    last_ok = _last(entries, ("pipeline_run",), ("ok",))
    last_sync = _last(entries, ("crm_writeback",), ("ok", "partial"))
    last_sync_ok = _last(entries, ("crm_writeback",), ("ok",))
    # an error counts until a later success
    sources["legacy"]["last_error"] = _error_of(_unless_after(run_error, last_ok))
    sources["crm"]["last_error"] = _error_of(_unless_after(sync_error, last_sync_ok))
    return {
        "at": now.isoformat(timespec="seconds"),
        "lake": lake.url,
        "last_run": _summary(last_run),
        "last_write_back": _summary(last_sync),
        "sources": sources,
    }


def _unless_after(error: dict | None, success: dict | None) -> dict | None:
    if error is None or (success is not None and success["at"] > error["at"]):
        return None
    return error


def _summary(entry: dict | None) -> dict | None:
    if entry is None:
        return None
    return {"at": entry["at"], "outcome": entry["outcome"], "details": entry.get("details", {})}


def _error_of(entry: dict | None) -> str | None:
    if entry is None:
        return None
    reason = entry.get("details", {}).get("reason") or entry["outcome"]
    return f"{entry['at']}: {entry['action']}: {reason}"
