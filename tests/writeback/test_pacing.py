"""The write-back stays under the CRM's burst limit by reading its rate-limit headers:
a burst of batch updates against a sandbox with a small window gets no 429 at all."""

from __future__ import annotations

from pathlib import Path

from pipelines.crm.connector import RecordUpdate
from pipelines.crm.hubspot import HubSpotConnector
from pipelines.crm.pacing import BurstPacer
from pipelines.embedded.crm_sandbox.server import SandboxServer
from pipelines.embedded.crm_sandbox.store import CrmStore


def test_the_pacer_waits_longer_as_the_window_runs_out() -> None:
    slept: list[float] = []
    pacer = BurstPacer(sleep=slept.append)
    headers = {
        "X-HubSpot-RateLimit-Max": "190",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }
    for left in (150, 19, 5, 0):
        pacer.after(headers | {"X-HubSpot-RateLimit-Remaining": str(left)})
    assert slept == [10 / 20, 10 / 6, 10 / 1]  # nothing while plenty is left
    assert pacer.after({}) == 0.0  # no headers, no pacing


def test_a_burst_of_updates_meets_no_429(tmp_path: Path) -> None:
    db = tmp_path / "crm.sqlite"
    store = CrmStore(db)
    stamp = "2026-10-01T08:00:00.000Z"
    store.insert_objects(
        "companies", [(i, {"name": f"Firma {i}"}, stamp, stamp, False, None) for i in range(1, 41)]
    )
    store.close()
    with SandboxServer(db, "t", max_requests_per_10s=10, rate_interval_s=1.0) as crm:
        connector = HubSpotConnector(crm.base_url, "t")
        for i in range(1, 41):
            outcome = connector.update("companies", [RecordUpdate(str(i), {"name": f"Neu {i}"})])
            assert outcome[0].ok
        assert crm.limited_requests() == 0
    assert connector.pacer.waited_s > 0
