"""The whole flow on an S3-compatible object store: a real S3 server (SeaweedFS) on
loopback, started and stopped here. Landing files, bronze and gold Delta tables and the
audit mirror live in the bucket; only the compute side's working files are local. The
marts equal those of the same demo on local disk; every table records its residency; a
non-EU region is refused before a byte is written."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable

from pipelines.embedded.s3_sandbox import S3Server, SeaweedS3
from pipelines.lake.residency import RESIDENCY_PROPERTY
from pipelines.models.warehouse import connect
from tests.conftest import ledgerbridge

PREFIX = "prod"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with SeaweedS3(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


@pytest.fixture(scope="module")
def s3_lake(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    work = tmp_path_factory.mktemp("s3work")
    env = s3.env(PREFIX) | {"LEDGERBRIDGE_WORK_DIR": str(work)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        url = env["LEDGERBRIDGE_LAKE"]
        ledgerbridge(url, "demo", "--customers", "600", "--seed", "7")  # as the e2e lake
        first = ledgerbridge(url, "run")
        second = ledgerbridge(url, "run")
        yield {"url": url, "work": work, "first": first, "second": second, "env": env}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fs(s3: S3Server):
    import s3fs

    return s3fs.S3FileSystem(
        key=s3.access_key, secret=s3.secret_key, endpoint_url=s3.endpoint, use_ssl=False
    )


def _storage(s3: S3Server) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_ENDPOINT_URL": s3.endpoint,
        "AWS_REGION": s3.region,
        "AWS_ALLOW_HTTP": "true",
    }


def test_the_lake_lives_in_the_bucket(s3: S3Server, s3_lake: dict) -> None:
    fs = _fs(s3)
    keys = fs.find(f"{s3.bucket}/{PREFIX}")
    for part in (
        "landing/legacy/customers/",
        "bronze/legacy/customers/_delta_log/",
        "bronze/crm/contacts/_delta_log/",
        "bronze/legacy_cdc/customers_changes/_delta_log/",
        "gold/customer_financial_status/_delta_log/",
        "audit/audit_log/_delta_log/",
    ):
        assert any(f"/{PREFIX}/{part}" in k for k in keys), part
    local = {p.name for p in s3_lake["work"].iterdir()}
    assert {"warehouse.duckdb", "state", "logs", "audit"} <= local
    assert not {"bronze", "gold"} & local  # no table data on the compute side
    assert not list((s3_lake["work"] / "landing").rglob("*.dat"))


def test_the_marts_equal_the_local_lake(s3_lake: dict, e2e_lake: dict) -> None:
    query = (
        "select count(*), sum(open_amount_eur), sum(overdue_amount_eur) "
        "from marts.customer_financial_status"
    )

    def figures(warehouse: Path) -> tuple:
        con = connect(warehouse, read_only=True)
        try:
            return con.execute(query).fetchone()
        finally:
            con.close()

    assert figures(s3_lake["work"] / "warehouse.duckdb") == figures(
        e2e_lake["lake"] / "warehouse.duckdb"
    )
    text = s3_lake["second"].stdout + s3_lake["second"].stderr
    assert "New legacy files this run: 0" in text  # the file log in S3 works


def test_tables_and_run_log_record_residency(s3: S3Server, s3_lake: dict) -> None:
    url = s3_lake["url"]
    for table in ("bronze/legacy/customers", "gold/customers", "audit/audit_log"):
        dt = DeltaTable(f"{url}/{table}", storage_options=_storage(s3))
        assert dt.metadata().configuration[RESIDENCY_PROPERTY] == "loopback/eu-central-1/EU"
    logs = sorted((s3_lake["work"] / "logs").glob("*.jsonl"))
    events = [json.loads(x) for f in logs for x in f.read_text().splitlines()]
    started = [e for e in events if e.get("event") == "run_started"]
    assert started and started[-1]["residency"] == "loopback/eu-central-1/EU"
    assert started[-1]["lake"] == url


def test_dsar_reads_the_object_store(s3_lake: dict) -> None:
    out = json.loads(ledgerbridge(s3_lake["url"], "dsar", "--customer", "10000001").stdout)
    assert any(i["location"] == "bronze/legacy/customers" for i in out["items"])


def test_a_non_eu_region_is_refused_before_a_byte_is_written(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = s3.env("elsewhere") | {
        "LEDGERBRIDGE_S3_REGION": "us-east-1",
        "LEDGERBRIDGE_WORK_DIR": str(tmp_path / "work"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    proc = ledgerbridge(env["LEDGERBRIDGE_LAKE"], "run", check=False)
    assert proc.returncode != 0 and "rule R3 (EU region)" in proc.stderr
    assert not _fs(s3).find(f"{s3.bucket}/elsewhere")
    assert not (tmp_path / "work").exists()


def test_forget_leaves_no_byte_in_the_bucket(s3: S3Server, s3_lake: dict, tmp_path: Path) -> None:
    from pipelines.compliance.byte_scan import scan
    from tests.compliance.test_erasure import _unique_subject

    customer, (email, _, contact, iban) = _unique_subject(s3_lake["work"])
    fs = _fs(s3)
    before = tmp_path / "before"
    fs.get(f"{s3.bucket}/{PREFIX}/", str(before), recursive=True)
    assert scan(before, [email, contact, iban])  # the scan sees them in the bucket's objects
    ledgerbridge(s3_lake["url"], "forget", "--customer", str(customer), "--no-crm")
    after = tmp_path / "after"
    fs.get(f"{s3.bucket}/{PREFIX}/", str(after), recursive=True)
    assert scan(after, [email, contact, iban]) == []
    assert scan(s3_lake["work"], [email, contact, iban]) == [] or all(
        "/landing/crm/" in f for f, _ in scan(s3_lake["work"], [email, contact, iban])
    )  # the demo CRM's own store (--no-crm: not asked to erase) is the CRM's, not the lake's
