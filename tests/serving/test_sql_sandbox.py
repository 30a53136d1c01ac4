"""`ledgerbridge sql` is a sandbox: one read-only SELECT against the role's database, and
nothing else — no file read or written, no other database attached, no extension, no
setting changed. Each escape a hostile analyst tried is refused, named, and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ledgerbridge


def _escapes(lake: Path) -> dict[str, str]:
    key_file = Path.home() / ".config" / "ledgerbridge" / "pseudonym.key"
    bronze = lake / "bronze" / "legacy" / "customers"
    return {
        "overwrite the audit log": (
            f"copy (select 'x' as a) to '{lake}/audit/audit.jsonl' (format csv)"
        ),
        "read a system file": "select * from read_csv('/etc/passwd')",
        "read the key file": f"select * from read_text('{key_file}')",
        "read bytes": "select * from read_blob('/etc/hostname')",
        "list files": "select * from glob('/*')",
        "a file as a table": "select * from '/etc/passwd'",
        "attach the clear warehouse": f"attach '{lake}/warehouse.duckdb' as clear (read_only)",
        "scan bronze": f"select * from delta_scan('{bronze}')",
        "scan parquet": f"select * from parquet_scan('{bronze}/*.parquet')",
        "change a setting": "set enable_external_access = true",
        "install an extension": "install httpfs",
        "load an extension": "load httpfs",
        "two statements": "select 1; copy (select 1) to '/tmp/x.csv'",
        "create a table": "create table marts.x as select 1 as a",
    }


@pytest.mark.parametrize("role", ["analyst", "finance"])
def test_every_escape_is_refused_with_a_reason(e2e_lake: dict, role: str) -> None:
    lake = e2e_lake["lake"]
    audit_before = (lake / "audit" / "audit.jsonl").read_bytes()
    entries_before = len(audit_before.splitlines())
    for name, query in _escapes(lake).items():
        proc = ledgerbridge(lake, "sql", query, "--role", role, check=False)
        assert proc.returncode != 0, f"{name} was not refused: {proc.stdout[:300]}"
        message = proc.stderr.strip().splitlines()[-1]
        assert "Traceback" not in proc.stderr, name
        assert any(
            word in message.lower()
            for word in ("refused", "read-only", "statement", "not", "permission")
        ), f"{name}: {message}"
    assert (lake / "audit" / "audit.jsonl").read_bytes().startswith(audit_before)
    assert not Path("/tmp/x.csv").exists()
    verify = ledgerbridge(lake, "audit", "verify")
    assert verify.returncode == 0
    lines = (lake / "audit" / "audit.jsonl").read_text().splitlines()[entries_before:]
    entries = [json.loads(line) for line in lines if line.strip()]
    refused = [e for e in entries if e["action"] == "sql_query" and e["outcome"] != "ok"]
    assert len(refused) == len(_escapes(lake)), [e["outcome"] for e in entries]
    assert all(e["details"].get("reason") for e in refused)


def test_a_plain_select_still_answers(e2e_lake: dict) -> None:
    lake = e2e_lake["lake"]
    out = ledgerbridge(
        lake,
        "sql",
        "with s as (select payment_status from marts.customer_financial_status) "
        "select payment_status, count(*) as n from s group by 1 order by 1",
        "--format",
        "json",
    ).stdout
    rows = json.loads(out)
    assert rows and sum(r["n"] for r in rows) > 500
    explained = ledgerbridge(lake, "sql", "explain select 1", "--format", "csv")
    assert explained.returncode == 0
