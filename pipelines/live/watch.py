"""`ledgerbridge watch`: the bridge kept running — new legacy files and journal receivers,
CRM changes (webhooks and an incremental search on an interval) taken in as they come, the
rows they touch rebuilt, gold merged, the changed finance status written back.

A landing file is taken only when it is complete: it has not changed for `settle_s`
seconds (a file renamed into place qualifies at once when its modification time is older;
one still being written keeps changing). A legacy extract that is taken and turns out
incomplete anyway is refused by its trailer and taken again when its fingerprint changes.

The writer lock is held for as long as `watch` runs: a `run` or `build` meanwhile is refused
(or waits with --wait) naming it. A stop request (SIGTERM, SIGINT) lets the step in
progress finish; then `watch` releases the lake and returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from pipelines import jobs
from pipelines.jobs import Session
from pipelines.lake.lease import LeaseLost

log = structlog.get_logger(__name__)


@dataclass
class WatchConfig:
    poll_s: float = 1.0  # how often the landing zone and the webhook inbox are looked at
    settle_s: float = 2.0  # a landing file unchanged this long is complete
    crm_interval_s: float = 60.0  # incremental CRM search at least this often
    write_back: bool = True  # changed finance status to the CRM after each change
    wait_s: float = 0.0  # for the writer lock at start
    retry_s: float = 10.0  # after a failed cycle (audited), before trying again


@dataclass
class Cycle:
    """One pass that found something new: why it ran and what it did."""

    reasons: list[str]
    seconds: float
    build: str  # the build plan's mode, or "nothing new"
    written_back: int = 0
    held: list[str] = field(default_factory=list)


def landing_files(session: Session) -> dict[str, tuple[int, float]]:
    """Every file in the legacy landing zone (extracts and journal receivers): size, mtime."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(session.lake.url_of(session.lake.legacy_landing))
    if not fs.exists(root):
        return {}
    out: dict[str, tuple[int, float]] = {}
    for path, info in fs.find(root, detail=True).items():
        if path.endswith((".tmp", ".part", ".partial")) or "/." in path:
            continue  # still being written under a temporary name
        stamp = info.get("mtime") or info.get("LastModified") or 0
        mtime = stamp.timestamp() if hasattr(stamp, "timestamp") else float(stamp)
        out[path] = (int(info.get("size") or 0), mtime)
    return out


def _news(events: list[dict]) -> int:
    """Webhook events about something other than ledgerbridge's own finance properties (the
    write-back's echo: the CRM notifies every change, ours too)."""
    from pipelines.writeback.finance_status import PROPERTY_PREFIX

    return sum(
        1 for e in events if not str(e.get("propertyName") or "").startswith(PROPERTY_PREFIX)
    )


def _settled(files: dict[str, tuple[int, float]], settle_s: float, now: float) -> bool:
    return all(now - mtime >= settle_s for _, mtime in files.values())


def watch(
    session: Session,
    config: WatchConfig,
    stop: threading.Event,
    on_cycle: Callable[[Cycle], None] | None = None,
) -> int:
    """Run until `stop` is set; returns the cycles that found something new."""
    from pipelines.crm.webhooks import WebhookInbox

    inbox = WebhookInbox(session.lake.crm_webhook_inbox)
    cycles = 0
    with jobs.writing(session, "watch", config.wait_s), jobs.audited(session, "watch") as entry:
        seen_files: dict[str, tuple[int, float]] | None = None
        seen_events = -1
        inbox_size, news = -1, 0
        last_crm = float("-inf")
        log.info("watch_started", lake=session.lake.url, poll_s=config.poll_s)
        while not stop.is_set():
            now = time.time()
            files = landing_files(session)
            size = inbox.path.stat().st_size if inbox.path.exists() else 0
            if size != inbox_size:  # parsed again only when a webhook was appended
                inbox_size, news = size, _news(inbox.events())
            events = news
            reasons = []
            if files != seen_files:
                if _settled(files, config.settle_s, now):
                    reasons.append("landing files" if seen_files is not None else "start")
                else:
                    log.debug("landing_unsettled", files=len(files))
            if events != seen_events and seen_events >= 0:
                reasons.append(f"{events - seen_events} CRM webhook events")
            if time.monotonic() - last_crm >= config.crm_interval_s:
                reasons.append("CRM interval")
            if reasons:
                try:
                    cycle = _cycle(session, config, reasons)
                except LeaseLost:
                    raise
                except Exception as exc:  # audited by the job; the bridge keeps running
                    log.error("watch_cycle_failed", error=jobs.one_line(exc), reasons=reasons)
                    stop.wait(config.retry_s)
                    continue
                seen_files, seen_events, last_crm = files, events, time.monotonic()
                if cycle.build != "nothing new" or cycle.written_back:
                    cycles += 1
                log.info("watch_cycle", **vars(cycle))
                if on_cycle is not None:
                    on_cycle(cycle)
            stop.wait(config.poll_s)
        entry.details.update(cycles=cycles)
    log.info("watch_stopped", cycles=cycles)
    return cycles


def _cycle(session: Session, config: WatchConfig, reasons: list[str]) -> Cycle:
    started = time.monotonic()
    report: Any = jobs.run_pipeline(session)
    build = "nothing new" if report.unchanged else report.plan.mode
    written = 0
    if config.write_back and not report.unchanged and jobs.has_crm(session):
        summary, _ = jobs.sync_crm(session)
        written = summary.updated
    return Cycle(reasons, round(time.monotonic() - started, 2), build, written, report.held)
