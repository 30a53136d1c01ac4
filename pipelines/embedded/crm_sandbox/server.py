"""Run the sandbox: in the foreground (`ledgerbridge crm-sandbox`) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from pipelines.embedded.crm_sandbox.app import create_app
from pipelines.embedded.crm_sandbox.store import CrmStore
from pipelines.embedded.crm_sandbox.webhook_sender import WebhookSender


class SandboxServer:
    """A sandbox on 127.0.0.1 in a daemon thread; use as a context manager."""

    def __init__(
        self,
        db: Path,
        token: str,
        port: int = 0,
        max_requests_per_10s: int = 1000,
        rate_interval_s: float = 10.0,
        webhook_url: str | None = None,
        client_secret: str | None = None,
    ) -> None:
        self.store = CrmStore(db)
        self.webhooks = _attach_webhooks(self.store, webhook_url, client_secret)
        self.token = token
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit TCP_NODELAY. Without it each response (headers and
        # body written separately) waits ~40 ms for a delayed ACK: 20x slower paging.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        app = create_app(self.store, token, max_requests_per_10s, rate_interval_s)
        self._app = app
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def limited_requests(self) -> int:
        """How many requests were answered 429 so far."""
        return self._app.state.limited

    def archive_pages(self) -> dict[str, int]:
        """Pages of the archived-objects list served so far, per object type."""
        return dict(self._app.state.archive_pages)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("CRM sandbox did not start within 10 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.webhooks is not None:
            self.webhooks.close()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        self.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _attach_webhooks(store: CrmStore, url: str | None, secret: str | None) -> WebhookSender | None:
    """With a subscriber URL and the app's client secret, every edit is sent as a webhook."""
    if not url:
        return None
    if not secret:
        raise ValueError("webhooks need the app's client secret to sign them (--client-secret)")
    sender = WebhookSender(url, secret)
    store.listeners.append(sender.notify)
    return sender


def serve_forever(
    db: Path,
    token: str,
    port: int,
    max_requests_per_10s: int,
    webhook_url: str | None = None,
    client_secret: str | None = None,
) -> None:
    store = CrmStore(db)
    _attach_webhooks(store, webhook_url, client_secret)
    app = create_app(store, token, max_requests_per_10s)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")
