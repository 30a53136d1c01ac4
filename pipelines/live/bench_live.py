"""`make bench-live`: how long one change takes to reach the other system, both ways.

On a demo lake of `--customers`, the bridge runs live on loopback (the CRM sandbox sending
signed webhooks to `serve`, `watch` using the sandbox as its CRM). Then, one at a time:
- legacy → CRM: a journal receiver changing one matched customer's credit limit is written
  complete into the landing zone; timed until the CRM sandbox holds the new
  `lb_credit_limit_eur` on the customer's company;
- CRM → API: a CRM company with no finance match gets a finance customer's number as its
  `erp_customer_number` (the CRM accepts the PATCH); timed until the API answers that
  company's financial status with that customer.
Prints p50, p95 and max per direction.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import requests

from pipelines.embedded.demo.change_set import write_change_set
from pipelines.lake.paths import Lake
from pipelines.live.dev import _free_port


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def _wait(check, timeout: float) -> float | None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(0.05)
    return None


def _company_property(db: Path, company: int, name: str) -> str | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute(
            "select json_extract(properties, '$.' || ?) from objects "
            "where object_type='companies' and id=?",
            (name, company),
        ).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def _quantiles(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no change arrived"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name}: {len(values)} changes — p50 {statistics.median(values):.1f} s, "
        f"p95 {p95:.1f} s, max {max(values):.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=50, help="per direction")
    parser.add_argument("--timeout", type=float, default=300, help="per change, seconds")
    parser.add_argument("--lake", default=None, help="a lake to reuse (default: a new one)")
    args = parser.parse_args()
    root = Path(args.lake or tempfile.mkdtemp(prefix="bench-live-")) / "lake"
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(root)}
    lake = Lake.from_url(str(root))
    if not lake.warehouse.exists():
        print(f"demo of {args.customers:,} customers and a first run …", flush=True)
        subprocess.run(_cli("demo", "--customers", str(args.customers)), env=env, check=True)
        subprocess.run(_cli("run"), env=env, check=True, stdout=subprocess.DEVNULL)
    con = duckdb.connect(str(lake.readable_warehouse()), read_only=True)
    matched = con.execute(
        # EUR customers: the CRM property is in EUR, the journal holds the master's currency
        "select s.customer_number, s.crm_company_id, s.credit_limit_eur "
        "from marts.customer_financial_status as s inner join marts.customers as c "
        "on s.customer_number = c.customer_number where s.crm_company_id is not null "
        "and s.credit_limit_eur is not null and c.currency_code = 'EUR' "
        "order by s.customer_number limit ?",
        [args.changes],
    ).fetchall()
    crm_only = [
        r[0]
        for r in con.execute(
            "select crm_company_id from marts.customer_matching "
            "where match_status = 'crm_only' order by 1 limit ?",
            [args.changes],
        ).fetchall()
    ]
    finance_only = [
        r[0]
        for r in con.execute(
            "select customer_number from marts.customer_matching "
            "where match_status = 'finance_only' order by 1 limit ?",
            [args.changes],
        ).fetchall()
    ]
    con.close()
    crm_port, api_port = _free_port(), _free_port()
    token, secret = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
    crm_url = f"http://127.0.0.1:{crm_port}"
    key = subprocess.run(_cli("api-key", "create", f"bench-{secrets.token_hex(3)}"), env=env,
                         check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    logs = open(root.parent / "live.log", "w")  # noqa: SIM115 (the children's, to the end)
    children = [
        subprocess.Popen(_cli("crm-sandbox", "--port", str(crm_port), "--token", token,
                              "--webhook-url", f"http://127.0.0.1:{api_port}/webhooks/hubspot",
                              "--client-secret", secret), env=env, stdout=logs, stderr=logs),
        subprocess.Popen(_cli("serve", "--port", str(api_port)), stdout=logs, stderr=logs,
                         env=env | {"LEDGERBRIDGE_CRM_CLIENT_SECRET": secret}),
        subprocess.Popen(_cli("watch", "--poll", "0.2", "--settle", "0.3",
                              "--crm-interval", "5"), stdout=logs, stderr=logs,
                         env=env | {"LEDGERBRIDGE_CRM_BASE_URL": crm_url,
                                    "LEDGERBRIDGE_CRM_TOKEN": token}),
    ]  # fmt: skip
    legacy_to_crm: list[float] = []
    crm_to_api: list[float] = []
    try:
        api = f"http://127.0.0.1:{api_port}"
        _wait(lambda: _up(api), 60)
        time.sleep(5)  # watch's first pass
        for i, (customer, company, limit) in enumerate(matched):
            new = int(limit * 100) + 100_000 + i
            write_change_set(lake, credit_limits={int(customer): new})
            started = time.time()
            seen = _wait(
                lambda c=company, v=new: (
                    _company_property(lake.crm_sandbox_db, int(c), "lb_credit_limit_eur")
                    == f"{v / 100:.2f}"
                ),
                args.timeout,
            )
            if seen:
                legacy_to_crm.append(seen - started)
            print(f"legacy → CRM {i + 1}: {seen - started if seen else 'timeout'}", flush=True)
        headers = {"Authorization": f"Bearer {token}"}
        for i, (company, customer) in enumerate(zip(crm_only, finance_only, strict=False)):
            answer = requests.patch(
                f"{crm_url}/crm/v3/objects/companies/{company}",
                json={"properties": {"erp_customer_number": str(customer)}},
                headers=headers,
                timeout=30,
            )
            answer.raise_for_status()
            started = time.time()
            seen = _wait(lambda c=company, n=customer: _status_of(api, key, c) == n, args.timeout)
            if seen:
                crm_to_api.append(seen - started)
            print(f"CRM → API {i + 1}: {seen - started if seen else 'timeout'}", flush=True)
    finally:
        for child in reversed(children):
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=180)
        logs.close()
    customers = json.loads(lake.demo_truth.read_text())["customers"]
    print(f"\nLive latency at {customers:,} customers (lake {root}):")
    print("  " + _quantiles("legacy journal → CRM property", legacy_to_crm))
    print("  " + _quantiles("CRM edit → API answer", crm_to_api))
    return 0


def _up(api: str) -> bool:
    try:
        return requests.get(f"{api}/openapi.json", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _status_of(api: str, key: str, company: int) -> int | None:
    try:
        r = requests.get(
            f"{api}/v1/customers/{company}/financial-status",
            headers={"Authorization": f"Bearer {key}"},
            timeout=5,
        )
    except requests.RequestException:
        return None
    return r.json().get("customer_number") if r.status_code == 200 else None


if __name__ == "__main__":
    sys.exit(main())
