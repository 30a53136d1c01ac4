"""The demo generates at any size from 100 to 2,000,000 customers, and a demo that fails
leaves nothing half-written behind (the next demo would refuse a half-written lake)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import jobs
from pipelines.jobs import JobError, Session
from tests.conftest import ledgerbridge


def _session(lake: Path) -> Session:
    return Session.open(str(lake))


def test_the_smallest_demo_runs_end_to_end(tmp_path: Path) -> None:
    lake = tmp_path / "small"
    ledgerbridge(lake, "demo", "--customers", "100", "--seed", "3")
    run = ledgerbridge(lake, "run")
    assert "Open AR: EUR" in run.stdout


def test_a_size_out_of_range_is_refused_in_one_line(tmp_path: Path) -> None:
    lake = tmp_path / "tiny"
    proc = ledgerbridge(lake, "demo", "--customers", "99", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "the demo generates 100 to 2,000,000 customers" in proc.stderr
    assert not Session.open(str(lake)).lake.holds_data()


def test_a_demo_that_fails_midway_leaves_the_lake_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.embedded.demo.generate as generate

    session = _session(tmp_path / "half")

    def fail_after_landing(lake: object, *args: object, **kwargs: object) -> None:
        (lake.legacy_landing / "customers").mkdir(parents=True, exist_ok=True)
        (lake.legacy_landing / "customers" / "ARCUST_D20261030.dat").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(generate, "generate_demo", fail_after_landing)
    with pytest.raises(OSError, match="disk full"):
        jobs.demo(session, 100)
    assert not session.lake.holds_data()
    monkeypatch.undo()
    jobs.demo(session, 100, seed=1)  # the next demo is not refused
    assert session.lake.holds_data()


def test_a_demo_into_a_lake_with_data_is_refused(tmp_path: Path) -> None:
    session = _session(tmp_path / "full")
    jobs.demo(session, 100, seed=2)
    with pytest.raises(JobError, match="already holds data"):
        jobs.demo(session, 100)


@pytest.mark.slow
def test_a_50000_customer_demo_generates_and_runs(tmp_path: Path) -> None:
    """50,000 and 100,000 customers crashed the generator once (a deleted customer taken as
    an insert template)."""
    lake = tmp_path / "large"
    ledgerbridge(lake, "demo", "--customers", "50000", "--seed", "11")
    run = ledgerbridge(lake, "run")
    assert "50,000" in run.stdout or "50000" in run.stdout
