"""The curated-view API over a built lake: lookups both ways equal the marts, amounts are
exact decimal strings, keys are hashed and scoped, errors are clear, every request audited."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipelines.lake.paths import Lake
from pipelines.models.warehouse import connect
from pipelines.operations.audit import AuditLog, verify
from pipelines.serving.api import create_api
from pipelines.serving.keys import ApiKeyError, ApiKeyStore
from pipelines.serving.snapshot import WarehouseSnapshot


@pytest.fixture(scope="module")
def served(e2e_lake: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    lake = Lake(e2e_lake["lake"])
    keys = ApiKeyStore(tmp_path_factory.mktemp("keys") / "api_keys.json")
    audit = AuditLog(Lake(tmp_path_factory.mktemp("audit")))
    full = keys.create("crm-card", ["financial-status:read", "open-items:read"])
    status_only = keys.create("status-only", ["financial-status:read"])
    client = TestClient(create_api(WarehouseSnapshot(lake.warehouse), keys, audit))
    return {"lake": lake, "keys": keys, "audit": audit, "client": client, "full": full,
            "status_only": status_only}  # fmt: skip


def _mart(lake: Lake, sql: str) -> list[tuple]:
    con = connect(lake.warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _get(served: dict, path: str, key: str | None = "full"):
    headers = {"Authorization": f"Bearer {served[key]}"} if key else {}
    return served["client"].get(path, headers=headers)


def test_financial_status_both_ways_equals_the_mart(served: dict) -> None:
    rows = _mart(
        served["lake"],
        "select crm_company_id, customer_number, open_amount_eur, payment_status "
        "from marts.customer_financial_status where crm_company_id is not null "
        "order by open_amount_eur desc limit 20",
    )
    for company, customer, open_eur, status in rows:
        by_company = _get(served, f"/v1/customers/{company}/financial-status")
        assert by_company.status_code == 200
        body = by_company.json()
        assert body["customer_number"] == customer and body["payment_status"] == status
        assert body["open_amount_eur"] == f"{open_eur:.2f}"  # exact, a string
        assert Decimal(body["open_amount_eur"]) == open_eur
        by_number = _get(served, f"/v1/finance-customers/{customer}/financial-status")
        assert by_number.json() == body


def test_open_items_equal_the_mart(served: dict) -> None:
    ((customer, count, total),) = _mart(
        served["lake"],
        "select customer_number, count(*), sum(open_amount_eur) from marts.open_items "
        "group by 1 order by 2 desc limit 1",
    )
    body = _get(served, f"/v1/finance-customers/{customer}/open-items").json()
    assert len(body["items"]) == count
    assert sum(Decimal(i["open_amount_eur"]) for i in body["items"]) == total


def test_keys_scopes_and_errors(served: dict) -> None:
    path = "/v1/customers/1/financial-status"
    assert _get(served, path, None).json()["error"] == "unauthenticated"
    assert _get(served, path, None).status_code == 401
    served["bogus"] = "lb_000000000000_not-a-secret"
    assert _get(served, path, "bogus").status_code == 401
    (customer,) = _mart(served["lake"], "select min(customer_number) from marts.customers")[0]
    forbidden = _get(served, f"/v1/finance-customers/{customer}/open-items", "status_only")
    assert forbidden.status_code == 403 and "open-items:read" in forbidden.json()["message"]
    missing = _get(served, "/v1/finance-customers/99999999999/financial-status")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    malformed = _get(served, "/v1/customers/abc/financial-status")
    assert malformed.status_code == 422 and "crm_company_id" in malformed.json()["message"]
    stored = served["keys"].path.read_text()
    assert served["full"].split("_", 2)[2] not in stored  # only hashes at rest
    with pytest.raises(ApiKeyError, match="scopes"):
        served["keys"].create("x", ["write:everything"])


def test_hostile_ids_and_paths_get_json_errors_not_500s(served: dict) -> None:
    """Ids beyond BIGINT are 422; unknown paths 404 and wrong methods 405 — all in the one
    error body, all audited."""
    huge = "9" * 39
    for path in (
        f"/v1/customers/{huge}/financial-status",
        f"/v1/finance-customers/-{huge}/open-items",
    ):
        answer = _get(served, path)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"
    unknown = _get(served, "/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert "/v1/nothing-here" in unknown.json()["message"]
    wrong = served["client"].post(
        "/v1/customers/1/financial-status", headers={"Authorization": f"Bearer {served['full']}"}
    )
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    entries = [json.loads(line) for line in served["audit"].path.read_text().splitlines()]
    outcomes = {(e["target"].split()[1], e["outcome"]) for e in entries}
    assert ("/v1/nothing-here", "404") in outcomes


def test_a_server_fault_is_json_and_audited(e2e_lake: dict, tmp_path: Path) -> None:
    class Broken(WarehouseSnapshot):
        def financial_status(self, column: str, value: int) -> dict | None:
            raise RuntimeError("disk gone")

    keys = ApiKeyStore(tmp_path / "keys.json")
    audit = AuditLog(Lake(tmp_path / "audit"))
    key = keys.create("k", ["financial-status:read"])
    client = TestClient(create_api(Broken(Lake(e2e_lake["lake"]).warehouse), keys, audit))
    answer = client.get(
        "/v1/customers/1/financial-status", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 500 and answer.json()["error"] == "internal_error"
    (entry,) = [json.loads(line) for line in audit.path.read_text().splitlines()]
    assert entry["outcome"] == "500" and "disk gone" in entry["details"]["reason"]


def test_revoked_keys_stop_working(served: dict, tmp_path: Path) -> None:
    keys = ApiKeyStore(tmp_path / "k.json")
    key = keys.create("temp", ["financial-status:read"])
    assert keys.verify(key) is not None
    keys.revoke("temp")
    assert keys.verify(key) is None


def test_every_request_is_audited_in_an_intact_chain(served: dict) -> None:
    before = len(served["audit"].entries())
    _get(served, "/v1/customers/1/financial-status", None)
    _get(served, "/v1/finance-customers/1/financial-status")
    entries = served["audit"].entries()[before:]
    assert [(e["actor"], e["outcome"]) for e in entries] == [
        ("anonymous", "401"),
        ("crm-card", "404"),
    ]
    assert entries[1]["target"] == "GET /v1/finance-customers/1/financial-status"
    assert verify(served["audit"].path).problem is None


def test_openapi_schema_is_published(served: dict) -> None:
    schema = served["client"].get("/openapi.json").json()
    paths = set(schema["paths"])
    assert "/v1/customers/{crm_company_id}/financial-status" in paths
    assert "/v1/finance-customers/{customer_number}/open-items" in paths
    assert json.dumps(schema)  # serialisable


def test_audit_verify_detects_alteration_and_removal(tmp_path: Path) -> None:
    audit = AuditLog(Lake(tmp_path))
    for i in range(4):
        audit.record("tester", "api_request", "200", target=f"GET /{i}")
    lines = audit.path.read_text().splitlines()
    assert verify(audit.path).problem is None
    audit.path.write_text("\n".join([lines[0], lines[2], lines[3]]) + "\n")
    assert "line 2" in verify(audit.path).problem
    altered = json.loads(lines[1]) | {"outcome": "500"}
    audit.path.write_text("\n".join([lines[0], json.dumps(altered), *lines[2:]]) + "\n")
    assert "altered" in verify(audit.path).problem
