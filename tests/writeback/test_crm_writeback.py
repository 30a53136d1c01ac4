"""Lake → CRM write-back against the sandbox: only matched companies, only changed values,
property definitions created, 429s survived, refusals logged and retried, replays harmless."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from pipelines.crm.hubspot import HubSpotConnector
from pipelines.embedded.crm_sandbox.server import SandboxServer
from pipelines.embedded.crm_sandbox.store import CrmStore
from pipelines.lake.paths import Lake
from pipelines.models.warehouse import connect
from pipelines.writeback import finance_status
from pipelines.writeback.sync import load_state, log_path, state_path, sync_crm
from tests.conftest import ledgerbridge

TOKEN = "writeback-test-token"


@pytest.fixture
def lake(e2e_lake: dict, tmp_path: Path) -> Lake:
    """A private copy of the session's built lake (write-back changes its CRM)."""
    root = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], root)
    return Lake(root)


def _marts(lake: Lake) -> dict[str, dict]:
    con = connect(lake.warehouse, read_only=True)
    try:
        rows = con.execute(
            "select crm_company_id, customer_number, payment_status, open_amount_eur "
            "from marts.customer_financial_status where crm_company_id is not null"
        ).fetchall()
    finally:
        con.close()
    return {str(c): {"customer": n, "status": s, "open": o} for c, n, s, o in rows}


def _crm_companies(lake: Lake) -> dict[str, dict]:
    store = CrmStore(lake.crm_sandbox_db)
    try:
        return {str(o["id"]): o["properties"] for o in store.page("companies", 0, 10**9, False)}
    finally:
        store.close()


def test_sync_writes_matched_companies_only_then_nothing(lake: Lake) -> None:
    marts = _marts(lake)
    assert len(marts) > 100
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        connector = HubSpotConnector(server.base_url, TOKEN)
        summary, changes = sync_crm(lake, connector, "run-1")
        assert summary.updated == len(marts) == len(changes) and summary.failed == 0
        assert set(summary.properties_created) == {p.name for p in finance_status.PROPERTIES}
        groups = connector._get("/crm/v3/properties/companies/groups")["results"]
        assert finance_status.GROUP[0] in {g["name"] for g in groups}
        again, _ = sync_crm(lake, connector, "run-2")
    assert again.updated == 0 and again.unchanged == len(marts)
    crm = _crm_companies(lake)
    for cid, want in marts.items():
        props = crm[cid]
        assert props["lb_payment_status"] == want["status"]
        assert props["lb_open_amount_eur"] == f"{want['open']:.2f}"
        assert props["lb_finance_customer_number"] == str(want["customer"])
    unmatched = set(crm) - set(marts)
    assert unmatched and not any("lb_payment_status" in crm[c] for c in unmatched)
    log = DeltaTable(log_path(lake)).to_pyarrow_table().to_pylist()
    assert len(log) == len(marts) and {r["status"] for r in log} == {"ok"}
    assert {r["run_id"] for r in log} == {"run-1"}
    assert log[0]["operation"] == "update" and "lb_payment_status" in log[0]["fields_changed"]
    assert set(load_state(lake)) == set(marts)


def test_dry_run_sends_nothing(lake: Lake) -> None:
    proc = ledgerbridge(lake.root, "sync-crm", "--dry-run")
    assert "would update" in proc.stdout and "lb_payment_status" in proc.stdout
    assert not any("lb_payment_status" in p for p in _crm_companies(lake).values())
    assert not Path(state_path(lake)).exists() and not Path(log_path(lake)).exists()


def test_only_changed_values_are_sent(lake: Lake) -> None:
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        connector = HubSpotConnector(server.base_url, TOKEN)
        sync_crm(lake, connector, "run-1")
        # pretend the last push of one company had an older open amount
        state = load_state(lake)
        cid = sorted(state)[0]
        table = DeltaTable(state_path(lake))
        old = state[cid] | {"lb_open_amount_eur": "1.00"}
        table.update(
            updates={"pushed_values": f"'{json.dumps(old, sort_keys=True)}'"},
            predicate=f"crm_company_id = '{cid}'",
        )
        summary, changes = sync_crm(lake, connector, "run-2")
    assert summary.updated == 1
    assert [(c.company_id, c.after) for c in changes] == [
        (cid, {"lb_open_amount_eur": state[cid]["lb_open_amount_eur"]})
    ]


def test_rate_limits_are_waited_out(lake: Lake) -> None:
    with SandboxServer(lake.crm_sandbox_db, TOKEN, max_requests_per_10s=3, rate_interval_s=1) as s:
        summary, _ = sync_crm(lake, HubSpotConnector(s.base_url, TOKEN), "run-429")
    assert summary.failed == 0 and summary.updated == len(_marts(lake))


def test_refused_records_are_logged_and_retried_and_replays_are_harmless(lake: Lake) -> None:
    victim = sorted(_marts(lake))[5]
    store = CrmStore(lake.crm_sandbox_db)
    store.archive("companies", int(victim))  # deleted in the CRM since the last extract
    store.close()
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        connector = HubSpotConnector(server.base_url, TOKEN)
        first, _ = sync_crm(lake, connector, "run-1")
        assert first.failed == 1 and "OBJECT_NOT_FOUND" in first.errors[0]
        assert victim not in load_state(lake)
        retry, changes = sync_crm(lake, connector, "run-2")
        assert [c.company_id for c in changes] == [victim] and retry.failed == 1
        before = _crm_companies(lake)
        shutil.rmtree(state_path(lake))  # a lost state: everything is sent again …
        replay, _ = sync_crm(lake, connector, "run-3")
        assert replay.updated == first.updated
    after = _crm_companies(lake)  # … and the CRM holds exactly what it held
    strip = {"hs_lastmodifieddate"}
    assert {k: {p: v for p, v in d.items() if p not in strip} for k, d in before.items()} == {
        k: {p: v for p, v in d.items() if p not in strip} for k, d in after.items()
    }
    errors = [
        r
        for r in DeltaTable(log_path(lake)).to_pyarrow_table().to_pylist()
        if r["status"] == "error"
    ]
    assert sorted((r["object_id"], r["run_id"]) for r in errors) == [
        (victim, "run-1"),
        (victim, "run-2"),
        (victim, "run-3"),
    ]
    assert all("not found" in r["error_reason"] for r in errors)


def test_cli_sync_exits_non_zero_on_refusals_and_audits(lake: Lake) -> None:
    store = CrmStore(lake.crm_sandbox_db)
    store.archive("companies", int(sorted(_marts(lake))[0]))
    store.close()
    proc = ledgerbridge(lake.root, "sync-crm", check=False)
    assert proc.returncode == 1 and "failed 1" in proc.stdout and "refused" in proc.stdout
    entries = [json.loads(x) for x in (lake.audit / "audit.jsonl").read_text().splitlines()]
    assert entries[-1]["action"] == "crm_writeback" and entries[-1]["outcome"] == "partial"
    assert ledgerbridge(lake.root, "audit", "verify").returncode == 0
