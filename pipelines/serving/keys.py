"""API keys: random secrets shown once, stored only as SHA-256 hashes, each with scopes.

A key reads `lb_<key id>_<secret>`: the id finds the record without scanning, the secret is
compared by hash in constant time. SHA-256 (not a slow password hash) is right here: the
secrets are 256 random bits, not guessable words. The file lives in the lake's ops/ folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

SCOPES = ("financial-status:read", "open-items:read")


class ApiKeyError(ValueError):
    """A key operation that cannot be done (unknown scope, duplicate name, …)."""


@dataclass
class ApiKey:
    name: str
    key_id: str
    secret_sha256: str
    scopes: list[str]
    created_at: str
    revoked_at: str | None = None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> list[ApiKey]:
        if not self.path.exists():
            return []
        return [ApiKey(**k) for k in json.loads(self.path.read_text())]

    def _save(self, keys: list[ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(k) for k in keys], indent=1))
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def create(self, name: str, scopes: list[str]) -> str:
        """A new key with `scopes`; returns the key text (the only time it is shown)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise ApiKeyError(
                f"scopes {', '.join(unknown) or '(none)'}: choose from {', '.join(SCOPES)}"
            )
        keys = self._load()
        if any(k.name == name and not k.revoked_at for k in keys):
            raise ApiKeyError(f"an active key named {name!r} exists; revoke it first")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        keys.append(
            ApiKey(name, key_id, _hash(secret), sorted(set(scopes)), datetime.now(UTC).isoformat())
        )
        self._save(keys)
        return f"lb_{key_id}_{secret}"

    def revoke(self, name: str) -> None:
        keys = self._load()
        active = [k for k in keys if k.name == name and not k.revoked_at]
        if not active:
            raise ApiKeyError(f"no active key named {name!r}")
        for k in active:
            k.revoked_at = datetime.now(UTC).isoformat()
        self._save(keys)

    def list(self) -> list[ApiKey]:
        return self._load()

    def verify(self, presented: str) -> ApiKey | None:
        """The active key `presented` belongs to, or None."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != "lb":
            return None
        for k in self._load():
            if k.key_id == parts[1] and not k.revoked_at:
                return k if hmac.compare_digest(k.secret_sha256, _hash(parts[2])) else None
        return None
