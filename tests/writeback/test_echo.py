"""The write-back's own edits do not come back as CRM changes: after `sync-crm`, the next
run finds nothing new (no CRM row landed, no rebuild) — while a person's edit to a company
ledgerbridge wrote is still landed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipelines.embedded.crm_sandbox.store import CrmStore
from pipelines.lake.paths import Lake
from tests.conftest import ledgerbridge


def test_our_own_write_back_is_no_news_but_a_persons_edit_is(
    e2e_lake: dict, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(e2e_lake["lake"], lake, symlinks=True)
    synced = ledgerbridge(lake, "sync-crm")
    assert "updated 0," not in synced.stdout  # something was written
    again = ledgerbridge(lake, "run")
    assert "Nothing new" in again.stdout, again.stdout[-2500:]
    echoes = Lake(lake).crm_writeback_echoes
    assert echoes.exists()
    # a sales rep renames one of the companies ledgerbridge wrote to: that is news
    company = int(next(iter(json.loads(echoes.read_text()))))
    store = CrmStore(Lake(lake).crm_sandbox_db)
    store.update_properties("companies", company, {"name": "Umbenannt GmbH"})
    store.close()
    edited = ledgerbridge(lake, "run")
    assert "Build: full" in edited.stdout
    rows = ledgerbridge(
        lake,
        "sql",
        "--role",
        "finance",
        "--format",
        "csv",
        f"select company_name from staging.stg_crm__companies where company_id = {company}",
    )
    assert "Umbenannt GmbH" in rows.stdout
