"""One writer across machines sharing a bucket: the lease in the object store (a real S3
server on loopback). Two "machines" are two processes with their own work directories, so
their kernel locks do not see each other and only the lease keeps them apart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.embedded.s3_sandbox import S3Server, SeaweedS3
from pipelines.lake.lock import LakeBusy, lake_lock
from pipelines.lake.paths import Lake
from tests.conftest import ROOT

HOLD = """
import sys, time
from pathlib import Path
from pipelines.lake.paths import Lake
from pipelines.lake.lock import lake_lock
url, region, endpoint, work, seconds = sys.argv[1:]
lake = Lake.from_url(url, region, endpoint)
with lake_lock(Path(work), "run", 0, lake.data):
    print("held", flush=True)
    time.sleep(float(seconds))
"""


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Opening an S3 lake configures every client library through the environment
    (object_store.configure): put back what was there, for the tests that follow."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with SeaweedS3(tmp_path_factory.mktemp("seaweed")) as server:
        yield server


def _machine_a(s3: S3Server, url: str, work: Path, seconds: float) -> subprocess.Popen:
    env = os.environ | s3.env() | {"LEDGERBRIDGE_LEASE_TTL": "2"}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, s3.region, s3.endpoint, str(work), str(seconds)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_writer_on_another_machine_is_refused_until_the_lease_expires(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in (s3.env() | {"LEDGERBRIDGE_LEASE_TTL": "2"}).items():
        monkeypatch.setenv(k, v)
    url = f"s3://{s3.bucket}/leased"
    lake = Lake.from_url(url, s3.region, s3.endpoint)
    holder = _machine_a(s3, url, tmp_path / "a", 60)
    try:
        time.sleep(3)  # longer than the TTL: the holder renews, the lease stays its own
        with (
            pytest.raises(LakeBusy, match=rf"`run` \(pid {holder.pid} on .* another machine"),
            lake_lock(tmp_path / "b", "run", 0, lake.data),
        ):
            pass
        lease = json.loads(lake.data.fs.cat_file(f"{lake.data.path}/_ledgerbridge/writer.lease"))
        first = lease["generation"]
    finally:
        holder.send_signal(signal.SIGKILL)  # no release: the lease must expire
        holder.wait()
    with lake_lock(tmp_path / "b", "run", 10, lake.data):  # waits out the TTL, takes over
        lease = json.loads(lake.data.fs.cat_file(f"{lake.data.path}/_ledgerbridge/writer.lease"))
        assert lease["generation"] == first + 1  # the fencing token rose
        assert lease["pid"] == os.getpid()
    released = json.loads(lake.data.fs.cat_file(f"{lake.data.path}/_ledgerbridge/writer.lease"))
    assert released["released"] is True
    with lake_lock(tmp_path / "c", "run", 0, lake.data):  # a released lease is free at once
        pass


def test_a_writer_whose_lease_lapsed_commits_nothing(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder paused past its TTL (here: its renewal stopped, as a frozen VM's would) may
    have been taken over: its next commit is refused before anything is written, and the
    other machine's writer takes the lease with a higher generation."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    from pipelines.lake import lease as lake_lease
    from pipelines.operations.audit import AuditLog, mirror_to_delta

    for k, v in (s3.env() | {"LEDGERBRIDGE_LEASE_TTL": "2"}).items():
        monkeypatch.setenv(k, v)
    lake = Lake.from_url(f"s3://{s3.bucket}/fenced", s3.region, s3.endpoint)
    AuditLog(lake).record("tester", "probe", "ok")
    with lake_lock(tmp_path / "a", "run", 0, lake.data):
        held = lake_lease._held
        assert held is not None
        lake_lease.fence()  # fresh: commits go ahead
        held._stop.set()  # the renewal stops, as if the process were frozen
        held._renewer.join(timeout=5)
        time.sleep(2.5)
        with lake_lock(tmp_path / "b", "run", 0, lake.data):  # taken over on another machine
            assert held.generation + 1 == lake_lease._held.generation
        lake_lease._held = held  # back to the first writer, unaware
        with pytest.raises(lake_lease.LeaseLost, match="stopped before committing"):
            mirror_to_delta(lake)
    with pytest.raises(TableNotFoundError):
        DeltaTable(str(lake.audit_mirror))
    assert lake_lease._held is None
