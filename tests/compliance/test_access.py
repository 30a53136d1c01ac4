"""Roles: analyst (masked, read-only), finance (clear data), crm_service (API keys, see
test_serving_api.py), dpo (subject rights). A user without the role is refused with a
message naming it, and the refusal is audited."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from pipelines.compliance.access import AccessDenied, require, roles_of
from pipelines.lake.paths import Lake
from tests.conftest import ledgerbridge


def test_roles_come_from_the_access_table() -> None:
    access = {"analyst": ["*"], "finance": ["fiona"], "dpo": ["dora"], "crm_service": []}
    assert roles_of("fiona", access) == {"analyst", "finance"}
    assert roles_of("dora", access) == {"analyst", "dpo"}
    assert roles_of("anna", access) == {"analyst"}
    assert roles_of("anyone", None) == {"analyst", "finance", "crm_service", "dpo"}
    with pytest.raises(AccessDenied, match="'anna' does not hold the role 'dpo'"):
        require("dpo", access, "anna")
    with pytest.raises(ValueError, match="unknown roles admin"):
        roles_of("anna", {"admin": ["anna"]})


def test_the_cli_enforces_roles(
    e2e_lake: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = e2e_lake["lake"]
    me = getpass.getuser()
    config = tmp_path / "ledgerbridge.toml"
    config.write_text('[access]\nanalyst = ["*"]\nfinance = ["fiona"]\ndpo = ["dora"]\n')
    monkeypatch.setenv("LEDGERBRIDGE_CONFIG", str(config))
    refused = ledgerbridge(lake, "dsar", "--customer", "10000001", check=False)
    assert refused.returncode == 1
    assert f"user '{me}' does not hold the role 'dpo'" in refused.stderr
    for args in (("forget", "--customer", "10000001"), ("retention", "--dry-run")):
        assert ledgerbridge(lake, *args, check=False).returncode == 1
    clear = ledgerbridge(lake, "sql", "--role", "finance", "select 1", check=False)
    assert clear.returncode == 1 and "'finance'" in clear.stderr
    masked = ledgerbridge(
        lake, "sql", "--format", "json",
        "select email from staging.stg_legacy__customers where email is not null limit 1",
    )  # fmt: skip
    assert json.loads(masked.stdout)[0]["email"].startswith("p_")
    write = ledgerbridge(lake, "sql", "create table marts.x as select 1", check=False)
    assert write.returncode == 1 and "read-only" in write.stderr.lower()
    audit = (Lake(lake).audit / "audit.jsonl").read_text().splitlines()
    denied = [json.loads(x) for x in audit if '"denied"' in x]
    assert {e["action"] for e in denied} >= {"dsar_export", "erasure", "retention", "sql_query"}
    assert all(e["details"]["role_needed"] for e in denied)
    config.write_text(f'[access]\nanalyst = ["*"]\ndpo = ["{me}"]\n')
    assert ledgerbridge(lake, "retention", "--dry-run").returncode == 0
