"""The suppression list: people who asked to be erased, so a later extract does not bring
them back. It holds keyed hashes of e-mail addresses (HMAC with the pseudonym key), never the
addresses; the CRM source drops contacts whose e-mail is on it before anything lands.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from pipelines.lake.paths import Lake
from pipelines.lake.storage import write_text_atomically


def token(key: bytes, email: str) -> str:
    return hmac.new(key, email.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()


def _path(lake: Lake):
    return lake.suppression_list


def suppressed(lake: Lake) -> set[str]:
    path = _path(lake)
    return {e["token"] for e in json.loads(path.read_text())} if path.exists() else set()


def suppress(lake: Lake, key: bytes, email: str, reason: str) -> bool:
    """Put the address on the list; False if it was on it already."""
    entries = json.loads(_path(lake).read_text()) if _path(lake).exists() else []
    t = token(key, email)
    if any(e["token"] == t for e in entries):
        return False
    entries.append({"token": t, "since": datetime.now(UTC).isoformat(), "reason": reason})
    write_text_atomically(_path(lake), json.dumps(entries, indent=1))
    return True
