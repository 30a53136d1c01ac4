"""`make live`: the whole bridge running on loopback, to watch changes flow.

Builds the demo lake if it has no warehouse yet, then starts three processes — the CRM
sandbox (sending signed webhooks to `serve`), `serve` (the curated-view API, taking the
webhooks) and `watch` (using that sandbox as its CRM) — prints where to look and how to make
the sources move (`ledgerbridge demo tick`), and stops all three on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading

from pipelines.config import load_settings
from pipelines.lake.paths import Lake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ledgerbridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def main() -> int:
    settings = load_settings()
    lake = Lake.from_url(settings.lake, settings.s3_region, settings.s3_endpoint)
    env = os.environ | {"LEDGERBRIDGE_LAKE": settings.lake}
    if not lake.warehouse.exists():
        print("building the demo lake first (ledgerbridge run) …", flush=True)
        subprocess.run(_ledgerbridge("run"), env=env, check=True)
    crm_port, api_port = _free_port(), _free_port()
    token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    crm_url = f"http://127.0.0.1:{crm_port}"
    hook = f"http://127.0.0.1:{api_port}/webhooks/hubspot"
    name = f"live-{secrets.token_hex(3)}"
    key = subprocess.run(
        _ledgerbridge("api-key", "create", name),
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    crm_env = env | {"LEDGERBRIDGE_CRM_BASE_URL": crm_url, "LEDGERBRIDGE_CRM_TOKEN": token}
    children = [
        subprocess.Popen(
            _ledgerbridge(
                "crm-sandbox",
                "--port",
                str(crm_port),
                "--token",
                token,
                "--webhook-url",
                hook,
                "--client-secret",
                secret,
            ),
            env=env,
        ),
        subprocess.Popen(
            _ledgerbridge("serve", "--port", str(api_port)),
            env=env | {"LEDGERBRIDGE_CRM_CLIENT_SECRET": secret},
        ),
        subprocess.Popen(_ledgerbridge("watch", "--crm-interval", "30"), env=crm_env),
    ]
    print(
        f"""
ledgerbridge is live on loopback (lake: {lake.url})
  CRM sandbox  {crm_url}  (token {token}); every edit is sent as a signed webhook to serve
  API          http://127.0.0.1:{api_port}/docs — e.g.
               curl -H 'Authorization: Bearer {key}' \\
                 http://127.0.0.1:{api_port}/v1/finance-customers/10000001/financial-status
  watch        takes every change in; its lines show what each pass did
Make the sources move (in another shell):
  LEDGERBRIDGE_CRM_BASE_URL={crm_url} LEDGERBRIDGE_CRM_TOKEN={token} \\
    .venv/bin/ledgerbridge demo tick --changes 10
Stop with Ctrl-C.
""",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        if any(c.poll() is not None for c in children):
            print("a process of the live bridge ended; stopping the others", flush=True)
            break
    for c in reversed(children):  # watch first: it finishes its pass and frees the lake
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)
    codes = [c.wait(timeout=120) for c in reversed(children)]
    subprocess.run(_ledgerbridge("api-key", "revoke", name), env=env, capture_output=True)
    return 0 if all(code in (0, -signal.SIGTERM) for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
