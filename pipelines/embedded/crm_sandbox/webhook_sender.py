"""The sandbox sends webhooks as HubSpot does: change events batched (up to 100 a request),
POSTed to the subscriber's URL with `X-HubSpot-Signature-v3` and
`X-HubSpot-Request-Timestamp` (pipelines/crm/webhooks.py signs exactly as HubSpot's own
client checks), retried with back-off when the subscriber does not answer 2xx."""

from __future__ import annotations

import itertools
import json
import queue
import random
import threading
import time

import requests
import structlog

from pipelines.crm.webhooks import sign_v3
from pipelines.embedded.crm_sandbox.shapes import SINGULAR

log = structlog.get_logger(__name__)
BATCH = 100
ATTEMPTS = 5


class WebhookSender:
    def __init__(self, url: str, client_secret: str, portal_id: int = 1, app_id: int = 1) -> None:
        self.url = url
        self._secret = client_secret
        self._portal, self._app = portal_id, app_id
        self._ids = itertools.count(random.randint(10**8, 10**9))
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self.sent = 0  # events delivered (2xx)
        self.failed = 0  # events given up on after every attempt
        self._thread = threading.Thread(target=self._run, name="crm-webhooks", daemon=True)
        self._thread.start()

    def notify(self, object_type: str, object_id: int, change: str, properties: dict) -> None:
        """Called by the store after each edit: `change` is creation, propertyChange or
        deletion; a property change is one event per property, as HubSpot sends them."""
        kind = f"{SINGULAR.get(object_type, object_type)}.{change}"
        base = {
            "objectId": object_id,
            "subscriptionType": kind,
            "portalId": self._portal,
            "appId": self._app,
            "occurredAt": int(time.time() * 1000),
            "changeSource": "API",
            "attemptNumber": 0,
            "subscriptionId": 1,
        }
        if change == "propertyChange":
            for name, value in properties.items():
                self._queue.put(
                    base
                    | {"eventId": next(self._ids), "propertyName": name, "propertyValue": value}
                )
        else:
            self._queue.put(base | {"eventId": next(self._ids)})

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + 0.2  # gather what arrives together
            while len(batch) < BATCH:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._deliver(batch)
                    return
                batch.append(item)
            self._deliver(batch)

    def _deliver(self, batch: list[dict]) -> None:
        for attempt in range(ATTEMPTS):
            for event in batch:
                event["attemptNumber"] = attempt
            body = json.dumps(batch).encode()
            stamp = str(int(time.time() * 1000))
            headers = {
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": sign_v3(self._secret, "POST", self.url, body, stamp),
                "X-HubSpot-Request-Timestamp": stamp,
            }
            try:
                answer = requests.post(self.url, data=body, headers=headers, timeout=10)
                if answer.status_code < 300:
                    self.sent += len(batch)
                    return
                log.warning("webhook_refused", status=answer.status_code, attempt=attempt)
            except requests.RequestException as exc:
                log.warning("webhook_unreachable", error=str(exc), attempt=attempt)
            time.sleep(min(2**attempt * 0.5, 10))
        self.failed += len(batch)
