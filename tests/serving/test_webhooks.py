"""HubSpot webhooks into `serve`: signed exactly as HubSpot's official client computes and
checks signature v3; stale, tampered, unsigned and replayed requests are refused (401,
audited with the reason); the sandbox sends real signed webhooks for a sales rep's edits,
and they reach the inbox once, without the changed value."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInput
from hubspot.utils.signature import Signature
from hypothesis import given
from hypothesis import strategies as st

from pipelines.crm.webhooks import SignatureCheck, WebhookInbox, sign_v3
from pipelines.embedded.crm_sandbox.server import SandboxServer
from pipelines.embedded.crm_sandbox.store import CrmStore
from pipelines.lake.paths import Lake
from pipelines.operations.audit import AuditLog
from pipelines.serving.api import create_api
from pipelines.serving.keys import ApiKeyStore
from pipelines.serving.snapshot import WarehouseSnapshot
from pipelines.serving.webhook_endpoint import WebhookReceiver

SECRET = "app-client-secret-for-tests"
EVENT = {
    "eventId": 100,
    "subscriptionType": "company.propertyChange",
    "objectId": 123,
    "propertyName": "city",
    "propertyValue": "Berlin",
    "occurredAt": 1,
    "portalId": 1,
}


@given(
    body=st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    path=st.text(alphabet="abcdefghijklmnopqrstuvwxyz/?=&-", max_size=40),
    secret=st.text(min_size=1, max_size=40),
    age_ms=st.integers(min_value=0, max_value=240_000),
)
def test_our_signature_is_hubspots(body: str, path: str, secret: str, age_ms: int) -> None:
    stamp = str(int(time.time() * 1000) - age_ms)  # the official check wants it fresh too
    uri = f"https://bridge.example.de/{path}"
    ours = sign_v3(secret, "POST", uri, body.encode(), stamp)
    official = Signature.get_signature(
        secret, body, "v3", http_uri=uri, http_method="POST", timestamp=stamp
    )
    assert ours == official
    assert Signature.is_valid(
        ours, secret, body, http_uri=uri, signature_version="v3", timestamp=stamp
    )


@pytest.fixture
def receiving(e2e_lake: dict, tmp_path: Path) -> dict:
    lake = Lake(e2e_lake["lake"])
    audit = AuditLog(Lake(tmp_path / "audit"))
    inbox = WebhookInbox(tmp_path / "inbox.jsonl")
    receiver = WebhookReceiver(SignatureCheck(SECRET), inbox)
    app = create_api(
        WarehouseSnapshot(lake.warehouse), ApiKeyStore(tmp_path / "k.json"), audit, receiver
    )
    return {"client": TestClient(app), "inbox": inbox, "audit": audit}


def _post(client: TestClient, body: bytes, stamp: str | None = None, secret: str = SECRET):
    stamp = stamp or str(int(time.time() * 1000))
    uri = "http://testserver/webhooks/hubspot"
    signature = Signature.get_signature(
        secret, body.decode(), "v3", http_uri=uri, http_method="POST", timestamp=stamp
    )
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    return client.post("/webhooks/hubspot", content=body, headers=headers)


def test_a_signed_batch_is_taken_once_without_the_value(receiving: dict) -> None:
    body = json.dumps([EVENT, EVENT | {"eventId": 101, "propertyName": "name"}]).encode()
    assert _post(receiving["client"], body).status_code == 204
    kept = receiving["inbox"].events()
    assert [(e["eventId"], e["objectId"], e["propertyName"]) for e in kept] == [
        (100, 123, "city"),
        (101, 123, "name"),
    ]
    assert all("propertyValue" not in e for e in kept)  # re-read from the CRM, not kept
    # HubSpot delivers at least once: the same events in a new request are not kept again
    assert _post(receiving["client"], body).status_code == 204
    assert len(receiving["inbox"].events()) == 2


def test_stale_tampered_unsigned_and_replayed_requests_are_refused(receiving: dict) -> None:
    client = receiving["client"]
    body = json.dumps([EVENT]).encode()
    stale = str(int((time.time() - 301) * 1000))
    refusals = {
        "stale": _post(client, body, stamp=stale),
        "wrong secret": _post(client, body, secret="someone-else"),
        "unsigned": client.post("/webhooks/hubspot", content=body),
    }
    stamp = str(int(time.time() * 1000))
    first = _post(client, json.dumps([EVENT | {"eventId": 7}]).encode(), stamp=stamp)
    assert first.status_code == 204
    refusals["replayed"] = _post(client, json.dumps([EVENT | {"eventId": 7}]).encode(), stamp)
    for why, answer in refusals.items():
        assert answer.status_code == 401, why
        assert answer.json()["error"] == "unauthenticated", why
    assert [e["eventId"] for e in receiving["inbox"].events()] == [7]
    entries = receiving["audit"].entries()
    refused = [e for e in entries if e["outcome"] == "401"]
    assert len(refused) == 4 and all(e["details"]["reason"] for e in refused)
    assert {e["actor"] for e in refused} == {"hubspot-webhook"}


@pytest.fixture
def serve_with_webhooks(receiving: dict) -> Iterator[str]:
    """The API on a real loopback port, so the sandbox's webhooks travel over HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(receiving["client"].app, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}/webhooks/hubspot"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_the_sandbox_sends_a_sales_reps_edit_as_a_signed_webhook(
    receiving: dict, serve_with_webhooks: str, tmp_path: Path
) -> None:
    db = tmp_path / "sandbox.sqlite"
    store = CrmStore(db)
    stamp = "2026-10-01T08:00:00.000Z"
    store.insert_objects("companies", [(55, {"name": "Kunde AG"}, stamp, stamp, False, None)])
    store.close()
    with SandboxServer(db, "t", webhook_url=serve_with_webhooks, client_secret=SECRET) as crm:
        client = HubSpot(access_token="t", host=crm.base_url)
        client.crm.companies.basic_api.update(
            company_id="55",
            simple_public_object_input=SimplePublicObjectInput(properties={"city": "Bonn"}),
        )
        deadline = time.monotonic() + 10
        while not receiving["inbox"].events() and time.monotonic() < deadline:
            time.sleep(0.05)
    (event,) = receiving["inbox"].events()
    assert (event["objectId"], event["subscriptionType"], event["propertyName"]) == (
        55,
        "company.propertyChange",
        "city",
    )
