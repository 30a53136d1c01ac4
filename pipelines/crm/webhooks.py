"""HubSpot webhooks: signature v3, freshness, replays, and the inbox `watch` reads.

HubSpot signs every webhook request: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(the
app's client secret, method + full URI + raw body + `X-HubSpot-Request-Timestamp`)). A
request is taken only if the signature matches (compared in constant time), its timestamp
is less than 5 minutes old (and not from the future), and it was not seen before — a
replayed request carries a valid signature, so the signatures of the last 5 minutes are
remembered. Deliveries are at-least-once and unordered: each event is kept once (by
`eventId`), and the inbox holds only what says *which* object changed — not the value,
which the bridge re-reads from the CRM (minimisation: an e-mail never lands here).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

MAX_AGE_S = 300
# what of an event is kept: which object of which type changed how and when, never the value
KEPT = (
    "eventId",
    "subscriptionType",
    "objectId",
    "propertyName",
    "occurredAt",
    "changeSource",
    "portalId",
    "attemptNumber",
)


class WebhookRefused(ValueError):
    """A webhook request that is not taken (the message says why, for the 401 and audit)."""


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature of a request."""
    source = method.encode() + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class SignatureCheck:
    """Verifies webhook requests for one client secret (thread-safe; replays remembered)."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def verify(
        self, method: str, uri: str, body: bytes, signature: str | None, timestamp: str | None
    ) -> None:
        if not signature or not timestamp:
            raise WebhookRefused("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
        try:
            sent_ms = int(timestamp)
        except ValueError:
            raise WebhookRefused(
                f"timestamp {timestamp[:20]!r} is not epoch milliseconds"
            ) from None
        now = self._clock()
        age = now - sent_ms / 1000
        if age > MAX_AGE_S:
            raise WebhookRefused(f"request is {age:.0f} s old (at most {MAX_AGE_S} s)")
        if age < -MAX_AGE_S:
            raise WebhookRefused("request timestamp is in the future")
        expected = sign_v3(self._secret, method, uri, body, timestamp)
        if not hmac.compare_digest(expected, signature):
            raise WebhookRefused("signature does not match (wrong secret, URI or altered body)")
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - 2 * MAX_AGE_S:
                self._seen.popitem(last=False)
            if signature in self._seen:
                raise WebhookRefused("replayed request (this signature was already taken)")
            self._seen[signature] = now


class WebhookInbox:
    """The events taken, one JSON line each, appended under a file lock (`serve` writes,
    `watch` reads); an event id already in the inbox is not appended again."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, events: list[dict]) -> int:
        """Keep the new events (minimised); returns how many were new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.seek(0)
                seen = {json.loads(line).get("eventId") for line in fh if line.strip()}
                fresh = [
                    {k: e.get(k) for k in KEPT}
                    for e in events
                    if isinstance(e, dict) and e.get("eventId") not in seen
                ]
                for e in fresh:
                    fh.write(json.dumps(e, sort_keys=True) + "\n")
                fh.flush()
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return len(fresh)

    def events(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
