"""The CRM sandbox behaves like the HubSpot API we use, and the dlt CRM source lands it
incrementally: first run pages the list, later runs search by last-modified in windows."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from deltalake import DeltaTable

from pipelines.embedded.crm_sandbox import app as sandbox_app
from pipelines.embedded.crm_sandbox.server import SandboxServer
from pipelines.embedded.demo.generate import generate_demo
from pipelines.lake.paths import Lake
from pipelines.sources.crm import settings as crm_settings
from pipelines.sources.extract import extract_crm

TOKEN = "test-token"


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = Lake.from_url(str(tmp_path_factory.mktemp("crm") / "lake"))
    generate_demo(lake, customers=300, seed=5, as_of=date(2026, 10, 30))
    return lake


@pytest.fixture
def sandbox(demo_lake: Lake):
    with SandboxServer(demo_lake.crm_sandbox_db, TOKEN) as server:
        yield server


def _client(server: SandboxServer, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"})


def test_unauthenticated_requests_get_hubspot_errors(sandbox: SandboxServer) -> None:
    r = _client(sandbox, "wrong").get("/crm/v3/objects/companies")
    assert r.status_code == 401
    body = r.json()
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert "correlationId" in body


def test_list_pages_with_after_and_chosen_properties(sandbox: SandboxServer) -> None:
    c = _client(sandbox)
    seen: list[str] = []
    after = None
    while True:
        params = [
            ("limit", "100"),
            ("properties", "name"),
            ("properties", "vat_id"),
            ("archived", "False"),
        ]
        if after:
            params.append(("after", after))
        body = c.get("/crm/v3/objects/companies", params=params).json()
        for r in body["results"]:
            assert set(r["properties"]) <= {"name", "vat_id", "hs_object_id"}
            assert isinstance(r["id"], str) and r["archived"] is False
            assert r["updatedAt"].endswith("Z")
        seen += [r["id"] for r in body["results"]]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert len(seen) == len(set(seen)) == sandbox.store.count("companies", archived=False)
    archived = c.get("/crm/v3/objects/companies", params={"archived": "true", "limit": 100})
    assert all(r["archived"] and r["archivedAt"] for r in archived.json()["results"])


def test_search_filters_sorts_and_caps(sandbox: SandboxServer) -> None:
    c = _client(sandbox)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "GTE",
                        "value": "2026-01-01T00:00:00Z",
                    }
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 200,
        "properties": ["name"],
    }
    r = c.post("/crm/v3/objects/companies/search", json=body).json()
    stamps = [x["updatedAt"] for x in r["results"]]
    assert stamps == sorted(stamps) and all(s >= "2026-01-01" for s in stamps)
    assert r["total"] >= len(r["results"])
    capped = c.post("/crm/v3/objects/companies/search", json=body | {"after": "9900"})
    assert capped.status_code == 400 and capped.json()["category"] == "VALIDATION_ERROR"


def test_too_fast_gets_429_with_retry_after(demo_lake: Lake) -> None:
    with SandboxServer(demo_lake.crm_sandbox_db, TOKEN, max_requests_per_10s=5) as server:
        c = _client(server)
        codes = [c.get("/crm/v3/objects/deals", params={"limit": 1}).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        r = c.get("/crm/v3/objects/deals")
        assert r.status_code == 429
        assert int(r.headers["Retry-After"]) >= 1
        assert r.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert r.json()["errorType"] == "RATE_LIMIT"


def _bronze(lake: Lake, table: str) -> dict[int, dict]:
    rows = DeltaTable(str(lake.bronze_table("crm", table))).to_pyarrow_table().to_pylist()
    return {r["id"]: r for r in rows}


def test_crm_source_incremental_with_windows_and_archived(
    tmp_path: Path, demo_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.from_url(str(tmp_path / "lake"))
    with SandboxServer(demo_lake.crm_sandbox_db, TOKEN, max_requests_per_10s=10_000) as server:
        extract_crm(lake, server.base_url, TOKEN)
        companies = _bronze(lake, "companies")
        store = server.store
        assert len(companies) == store.count("companies")
        archived = [c for c in companies.values() if c["archived"]]
        assert len(archived) == store.count("companies", archived=True)
        assert all(c["archived_at"] is not None for c in archived)
        deals = _bronze(lake, "deals")
        assert all(d["company_id"] is not None for d in deals.values())

        # change 120 companies; shrink the search cap so the source must window
        monkeypatch.setattr(sandbox_app, "SEARCH_CAP", 50)
        monkeypatch.setattr(crm_settings, "SEARCH_CAP", 50)
        monkeypatch.setattr(crm_settings, "SEARCH_LIMIT", 20)
        live = [c for c in companies.values() if not c["archived"]][:120]
        time.sleep(0.01)
        for i, comp in enumerate(live):
            store.update_properties("companies", comp["id"], {"name": f"Renamed {i}"})
        gone = live[0]["id"]
        store.archive("companies", gone)
        result = extract_crm(lake, server.base_url, TOKEN)
        after = _bronze(lake, "companies")
        assert len(after) == len(companies)
        assert all(after[c["id"]]["name"] == f"Renamed {i}" for i, c in enumerate(live) if i)
        assert after[gone]["archived"] and after[gone]["archived_at"] is not None
        # only the changed companies (plus the archived list) were fetched, not everything
        assert result.crm_rows["companies"] < len(companies) / 2


def test_the_archive_is_listed_only_when_the_counts_say_something_left(tmp_path: Path) -> None:
    """HubSpot lists archived objects only in full; an incremental run lists them only when
    the CRM counts fewer live objects than the lake holds — and then lands the archive."""
    lake = Lake.from_url(str(tmp_path / "lake"))
    generate_demo(lake, customers=80, seed=5, as_of=date(2026, 10, 30))
    types = {"companies", "contacts", "deals"}
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        extract_crm(lake, server.base_url, TOKEN)  # the first load lists everything
        first = server.archive_pages()
        assert set(first) == types
        extract_crm(lake, server.base_url, TOKEN)  # nothing changed: one count per type
        assert server.archive_pages() == first

        store = server.store
        company = store.page("companies", 0, 1, False)[0]["id"]
        contact = store.page("contacts", 0, 1, False)[0]["id"]
        time.sleep(0.01)
        store.update_properties("contacts", contact, {"jobtitle": "Leitung Einkauf"})
        store.archive("companies", company)
        extract_crm(lake, server.base_url, TOKEN)
        after = server.archive_pages()
        assert after["companies"] > first["companies"]
        assert {t: after[t] for t in types - {"companies"}} == {
            t: first[t] for t in types - {"companies"}
        }
        assert _bronze(lake, "companies")[company]["archived"]
        assert _bronze(lake, "contacts")[contact]["jobtitle"] == "Leitung Einkauf"

        extract_crm(lake, server.base_url, TOKEN)  # the lake agrees with the CRM again
        assert server.archive_pages() == after


def _columns(lake: Lake, table: str) -> set[str]:
    names = DeltaTable(str(lake.bronze_table("crm", table))).schema().to_arrow().names
    return {n for n in names if not n.startswith("_dlt")}


FEW = {"companies": ["name", "hs_lastmodifieddate"], "contacts": ["email"], "deals": ["amount"]}


def _landed_with_few_properties(tmp_path: Path) -> Lake:
    lake = Lake.from_url(str(tmp_path / "lake"))
    generate_demo(lake, customers=80, seed=9, as_of=date(2026, 10, 30))
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        first = extract_crm(lake, server.base_url, TOKEN, FEW, run_id="r1")
    assert first.crm_schema_changes == []  # the first catalogue is the baseline
    return lake


def test_only_the_configured_properties_land_and_a_new_one_is_reported(tmp_path: Path) -> None:
    from pipelines.embedded.crm_sandbox.portal import property_definition
    from pipelines.embedded.crm_sandbox.store import CrmStore

    lake = _landed_with_few_properties(tmp_path)
    system = {"id", "created_at", "updated_at", "archived", "archived_at"}
    assert _columns(lake, "companies") == {"name", "hs_lastmodifieddate"} | system
    assert _columns(lake, "contacts") == {"email", "company_id"} | system
    # the CRM gains a property, loses none; nothing of it is landed, it is reported
    store = CrmStore(lake.crm_sandbox_db)
    store.put_property_definition(
        "companies", property_definition("credit_rating", "string", "text", "x", custom=True)
    )
    store.close()
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        second = extract_crm(lake, server.base_url, TOKEN, FEW, run_id="r2")
    assert [(c.object_type, c.property, c.change, c.landed) for c in second.crm_schema_changes] == [
        ("companies", "credit_rating", "added", False)
    ]
    assert "credit_rating" not in _columns(lake, "companies")
    report = DeltaTable(str(lake.crm_schema_changes)).to_pyarrow_table().to_pylist()
    assert [(r["run_id"], r["property"]) for r in report] == [("r2", "credit_rating")]


def test_a_configured_column_more_is_refused_unless_deliberate(tmp_path: Path) -> None:
    from pipelines.sources.extract import ExtractFailed

    lake = _landed_with_few_properties(tmp_path)
    more = FEW | {"companies": [*FEW["companies"], "city"]}
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        with pytest.raises(ExtractFailed, match=r"frozen.*--allow-schema-change"):
            extract_crm(lake, server.base_url, TOKEN, more, run_id="r3")
        extract_crm(lake, server.base_url, TOKEN, more, allow_schema_change=True, run_id="r4")
        assert "city" in _columns(lake, "companies")
        missing = extract_crm(
            lake, server.base_url, TOKEN, more | {"deals": ["amount", "no_such_prop"]},
            allow_schema_change=True, run_id="r5",
        )  # fmt: skip
    assert ("deals", "no_such_prop", "configured_but_missing") in {
        (c.object_type, c.property, c.change) for c in missing.crm_schema_changes
    }


def _extract_until_rate_limited(lake: Lake, server: SandboxServer) -> None:
    """`ledgerbridge extract crm` in a child, SIGKILLed while it waits out a 429 in the
    middle of paging (the sandbox allows a handful of requests a minute)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = os.environ | {
        "LEDGERBRIDGE_LAKE": str(lake.root),
        "LEDGERBRIDGE_CRM_BASE_URL": server.base_url,
        "LEDGERBRIDGE_CRM_TOKEN": TOKEN,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "extract", "crm"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if server.limited_requests() > 0:  # it is now sleeping on Retry-After, mid-paging
            break
        time.sleep(0.05)
    assert child.poll() is None, "the extract finished before it could be interrupted"
    child.send_signal(signal.SIGKILL)
    child.wait()


def _bronze_matches_sandbox(lake: Lake) -> None:
    from pipelines.embedded.crm_sandbox.store import CrmStore

    store = CrmStore(lake.crm_sandbox_db)
    try:
        for t in ("companies", "contacts", "deals"):
            want = {
                o["id"]: o["updatedAt"]
                for archived in (False, True)
                for o in store.page(t, 0, 10**9, archived)
            }
            table = DeltaTable(str(lake.bronze_table("crm", t))).to_pyarrow_table(
                columns=["id", "updated_at"]
            )
            ids = table["id"].to_pylist()
            assert len(ids) == len(set(ids)), f"{t}: duplicates"
            got = {
                i: u.isoformat(timespec="milliseconds").replace("+00:00", "Z")
                for i, u in zip(ids, table["updated_at"].to_pylist(), strict=True)
            }
            assert got == want, t
    finally:
        store.close()


def test_killed_mid_paging_the_next_run_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    from pipelines.embedded.crm_sandbox.store import CrmStore

    lake = Lake.from_url(str(tmp_path / "lake"))
    generate_demo(lake, customers=250, seed=11, as_of=date(2026, 10, 30))
    # first run (full list paging) killed, then completed
    with SandboxServer(
        lake.crm_sandbox_db, TOKEN, max_requests_per_10s=6, rate_interval_s=600
    ) as s:
        _extract_until_rate_limited(lake, s)
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as s:
        extract_crm(lake, s.base_url, TOKEN)
    _bronze_matches_sandbox(lake)
    # changes, then an incremental run (windowed search) killed, then completed
    store = CrmStore(lake.crm_sandbox_db)
    for oid in [o["id"] for o in store.page("contacts", 0, 40, False)]:
        store.update_properties("contacts", oid, {"jobtitle": "Leitung Einkauf"})
    store.close()
    with SandboxServer(
        lake.crm_sandbox_db, TOKEN, max_requests_per_10s=5, rate_interval_s=600
    ) as s:
        _extract_until_rate_limited(lake, s)
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as s:
        extract_crm(lake, s.base_url, TOKEN)
    _bronze_matches_sandbox(lake)
    titles = (
        DeltaTable(str(lake.bronze_table("crm", "contacts")))
        .to_pyarrow_table(columns=["jobtitle"])["jobtitle"]
        .to_pylist()
    )
    assert titles.count("Leitung Einkauf") >= 40


def test_a_suppressed_person_never_lands_again_and_the_crm_erases_them(tmp_path: Path) -> None:
    from pipelines.compliance.suppression import suppress
    from pipelines.crm.hubspot import HubSpotConnector
    from pipelines.embedded.crm_sandbox.store import CrmStore

    lake = Lake.from_url(str(tmp_path / "lake"))
    generate_demo(lake, customers=60, seed=13, as_of=date(2026, 10, 30))
    store = CrmStore(lake.crm_sandbox_db)
    person = store.page("contacts", 0, 1, False)[0]
    store.close()
    email = person["properties"]["email"]
    key = b"suppression-test-key"
    assert suppress(lake, key, email.upper(), "test") and not suppress(lake, key, email, "x")
    assert email not in (lake.ops / "suppression.json").read_text()  # hashes only
    with SandboxServer(lake.crm_sandbox_db, TOKEN) as server:
        extract_crm(lake, server.base_url, TOKEN, suppression_key=key)
        landed = _bronze(lake, "contacts")
        assert person["id"] not in landed and len(landed) > 10
        connector = HubSpotConnector(server.base_url, TOKEN)
        assert connector.erase_contact(email) is True
        assert connector.erase_contact(email) is False  # gone for good, not archived
    store = CrmStore(lake.crm_sandbox_db)
    assert store.get("contacts", person["id"]) is None
    assert store.get("contacts", person["id"], archived=True) is None
    assert store.associations("contacts", [person["id"]], "companies") == {}
    store.close()
