"""Journals applied exactly once: order, duplicates and conflicting re-deliveries, commit and
rollback, transactions spanning receivers, gaps and their acknowledgement, real kills at
several points, drift against a full extract and re-baselining — checked against the
demo generator's truth of what the journals did."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable

from pipelines.embedded.demo.generate import generate_demo
from pipelines.lake.paths import Lake
from pipelines.sources.extract import extract_legacy
from pipelines.sources.journals.apply import apply_journal, changes_path, load_state
from pipelines.sources.journals.feeds import journal_by_name
from pipelines.sources.journals.read import JournalError
from pipelines.sources.journals.receiver_log import read_receiver_log, receiver_log_path
from pipelines.sources.journals.reconcile import drift, state_at
from tests.conftest import ROOT

JOURNAL = journal_by_name("customers")
ENTRY = 409  # JRNCUST entry length
CP = "cp273"


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo lake with the full extracts landed and the journals delivered, not applied."""
    lake = Lake.from_url(str(tmp_path_factory.mktemp("cdc") / "lake"))
    generate_demo(lake, customers=400, seed=21, as_of=date(2026, 10, 30))
    extract_legacy(lake)
    return lake.root


@pytest.fixture
def lake(landed: Path, tmp_path: Path) -> Lake:
    shutil.copytree(landed, tmp_path / "lake")
    return Lake(tmp_path / "lake")


def _truth(lake: Lake) -> dict:
    return json.loads(lake.demo_truth.read_text())["journals"]["customers"]


def _folder(lake: Lake) -> Path:
    return lake.legacy_landing / JOURNAL.folder


def _entries(lake: Lake) -> list[bytes]:
    """Every entry once, in sequence order (the receivers overlap)."""
    seen: dict[int, bytes] = {}
    for path in sorted(_folder(lake).glob("*.dat")):
        data = path.read_bytes()
        for i in range(0, len(data), ENTRY):
            e = data[i : i + ENTRY]
            seen[int(e[:10].decode(CP))] = e
    return [seen[k] for k in sorted(seen)]


def _kind(entry: bytes) -> tuple[int, str, int]:
    return int(entry[:10].decode(CP)), entry[11:13].decode(CP), int(entry[79:89].decode(CP))


def _deliver(lake: Lake, *receivers: list[bytes]) -> None:
    for p in _folder(lake).glob("*.dat"):
        p.unlink()
    for n, entries in enumerate(receivers, start=1):
        (_folder(lake) / f"JRNCUST_R{n:06d}.dat").write_bytes(b"".join(entries))


def _credit(lake: Lake, sequence: int = 10**9) -> dict[str, int]:
    return {
        k: int(r["cm_credit_limit"] * 100) for k, r in state_at(lake, JOURNAL, sequence).items()
    }


def _assert_truth(lake: Lake) -> None:
    truth = _truth(lake)
    credit = _credit(lake)
    assert len(credit) == truth["rows_after"]
    assert sum(credit.values()) == truth["credit_total_cents_after"]
    for key, cents in truth["credit_cents"].items():
        assert credit[key] == cents, key
    assert not set(map(str, truth["deleted"])) & set(credit)
    assert set(map(str, truth["inserted"])) <= set(credit)


def _log_sequences(lake: Lake) -> list[int]:
    return (
        DeltaTable(changes_path(lake, "customers"))
        .to_pyarrow_table(columns=["sequence"])["sequence"]
        .to_pylist()
    )


def test_apply_matches_the_truth_and_a_rerun_changes_nothing(lake: Lake) -> None:
    truth = _truth(lake)
    first = apply_journal(lake, JOURNAL, "r1")
    assert first.gap is None and first.watermark == truth["last_sequence"]
    assert first.rolled_back > 0 and first.pending == 0
    _assert_truth(lake)
    baseline = _credit(lake, 0)
    rolled = str(truth["rolled_back_key"])
    assert rolled not in truth["credit_cents"] or rolled in map(str, truth["history"])
    if rolled not in truth["history"]:
        assert _credit(lake)[rolled] == baseline[rolled]  # the rolled-back change never applied
    from pipelines.sources.journals.state import refresh_state

    refresh_state(lake, JOURNAL, "r1")  # the materialised current state
    table = DeltaTable(str(lake.legacy_cdc / "customers")).to_pyarrow_table()
    assert table.num_rows == truth["rows_after"]
    assert {
        str(k): int(v * 100)
        for k, v in zip(
            table["cm_cust_no"].to_pylist(), table["cm_credit_limit"].to_pylist(), strict=True
        )
    } == _credit(lake)
    logged = _log_sequences(lake)
    again = apply_journal(lake, JOURNAL, "r2")
    assert again.applied == 0 and _log_sequences(lake) == logged
    assert len(logged) == len(set(logged)) == first.applied
    changes = DeltaTable(changes_path(lake, "customers")).to_pyarrow_table().to_pylist()
    update = next(c for c in changes if c["operation"] == "update")
    assert update["before_image"]["cm_cust_no"] == update["cm_cust_no"]
    assert update["job"] == "ARNIGHT" and update["program"] == "ARCUSTMNT"


def test_receivers_out_of_order_wait_for_the_missing_one(lake: Lake) -> None:
    entries = _entries(lake)
    third = len(entries) // 3
    first_seq = _kind(entries[0])[0]
    position = _truth(lake)["extract_position"]
    _deliver(lake, entries[third:])  # the first receiver has not arrived
    report = apply_journal(lake, JOURNAL, "r1")
    assert report.gap == (position + 1, first_seq + third - 1)
    assert report.applied == 0 and report.watermark == position
    assert load_state(lake, "customers")["gap"]["from"] == position + 1
    _deliver(lake, entries[third:], entries[:third])
    report = apply_journal(lake, JOURNAL, "r2")
    assert report.gap is None and load_state(lake, "customers")["gap"] is None
    _assert_truth(lake)


def test_a_gap_halts_until_acknowledged(lake: Lake) -> None:
    from pipelines.sources.journals.apply import acknowledge_gap

    entries = _entries(lake)
    position = _truth(lake)["extract_position"]
    after = [e for e in entries if _kind(e)[0] > position]
    # changes outside commitment control: losing them loses only themselves
    lone = [e for e in after if _kind(e)[1] in ("PT", "DL") and _kind(e)[2] == 0][:1]
    if not lone:  # else an update outside commitment control: its UB and UP
        i = next(i for i, e in enumerate(after) if _kind(e)[1] == "UB" and _kind(e)[2] == 0)
        lone = after[i : i + 2]
    low, high = _kind(lone[0])[0], _kind(lone[-1])[0]
    _deliver(lake, [e for e in entries if not any(e is x for x in lone)])
    report = apply_journal(lake, JOURNAL, "r1")
    assert report.gap == (low, high) and report.watermark <= low - 1
    assert all(s < low for s in _log_sequences(lake))
    acknowledge_gap(lake, "customers", low, high)
    report = apply_journal(lake, JOURNAL, "r2")
    assert report.gap is None and report.watermark == _truth(lake)["last_sequence"]
    assert not {low, high} & set(_log_sequences(lake)) and max(_log_sequences(lake)) > high


def test_a_receiver_contradicting_another_is_refused(lake: Lake) -> None:
    r2, r3 = sorted(_folder(lake).glob("*.dat"))[1:]
    # the third receiver starts by re-delivering the tail of the second
    assert r3.read_bytes()[:ENTRY] in r2.read_bytes()
    changed = bytearray(r3.read_bytes())
    changed[ENTRY - 1] ^= 0x01
    r3.write_bytes(bytes(changed))
    with pytest.raises(JournalError, match=r"sequence \d+ differs between JRNCUST_R000002"):
        apply_journal(lake, JOURNAL, "r1")


def test_a_transaction_split_across_receivers_applies_at_its_commit(lake: Lake) -> None:
    entries = _entries(lake)
    starts = [i for i, e in enumerate(entries) if _kind(e)[1] == "SC"]
    start = starts[len(starts) // 2]
    cut = next(i for i in range(start, len(entries)) if _kind(entries[i])[1] in ("CM", "RB"))
    _deliver(lake, entries[:cut])  # the transaction's changes, not yet its commit
    first = apply_journal(lake, JOURNAL, "r1")
    sc_seq = _kind(entries[start])[0]
    assert first.pending > 0 and first.watermark == sc_seq - 1
    _deliver(lake, entries[:cut], entries[cut:])
    apply_journal(lake, JOURNAL, "r2")
    _assert_truth(lake)
    logged = _log_sequences(lake)
    assert len(logged) == len(set(logged))


@pytest.mark.parametrize("point", ["before_append", "after_append", "after_state"])
def test_killed_at_any_point_the_next_run_converges(lake: Lake, point: str) -> None:
    env = os.environ | {"LEDGERBRIDGE_LAKE": str(lake.root), "LEDGERBRIDGE_CDC_KILL_AT": point}
    cmd = [sys.executable, "-m", "pipelines.cli", "extract", "journals"]
    killed = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
    assert killed.returncode == -9, killed.stderr[-2000:]
    env.pop("LEDGERBRIDGE_CDC_KILL_AT")
    subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=True)
    _assert_truth(lake)
    logged = _log_sequences(lake)
    assert len(logged) == len(set(logged))
    assert load_state(lake, "customers")["watermark"] == _truth(lake)["last_sequence"]


def test_drift_against_a_full_extract_and_rebaselining(lake: Lake) -> None:
    """A next-day full extract holding the journals' end state, with one customer's credit
    limit wrong: drift names exactly that; re-baselining adopts the extract."""
    from pipelines.sources.journals.apply import rebaseline, save_state

    report = apply_journal(lake, JOURNAL, "r1")
    rows = sorted(state_at(lake, JOURNAL, report.watermark).values(), key=lambda r: r["cm_cust_no"])
    wrong = _next_day_extract(lake, report.watermark, wrong=7)
    rows[7] = rows[7] | {"cm_credit_limit": rows[7]["cm_credit_limit"] + Decimal("1.00")}
    extract_legacy(lake)
    found = drift(lake, JOURNAL, "r2", "2026-10-31", report.watermark)
    # a created date that did not decode (null) could only be rewritten as a real date
    undated = {str(r["cm_cust_no"]) for r in rows if r["cm_created"] is None}
    assert {(d["record_key"], d["kind"], d.get("column_name")) for d in found.differences} == {
        (wrong, "value_differs", "cm_credit_limit"),
        *((k, "value_differs", "cm_created") for k in undated),
    }
    state_file = load_state(lake, "customers")
    rebaseline(lake, JOURNAL, date(2026, 10, 31), report.watermark, state_file)
    save_state(lake, "customers", state_file)
    assert drift(lake, JOURNAL, "r3", "2026-10-31", report.watermark).differences == []
    assert _credit(lake)[wrong] == int(rows[7]["cm_credit_limit"] * 100)
    assert apply_journal(lake, JOURNAL, "r4").applied == 0  # nothing after the new baseline


def test_the_items_ledger_journal_applies_postings_new_documents_and_archiving(
    lake: Lake,
) -> None:
    items = journal_by_name("open_items")
    truth = json.loads(lake.demo_truth.read_text())["journals"]["open_items"]
    report = apply_journal(lake, items, "r1")
    assert report.gap is None and report.watermark == truth["last_sequence"]
    assert report.rolled_back > 0
    state = state_at(lake, items, report.watermark)
    assert len(state) == truth["rows_after"]
    assert (
        sum(int(r["oi_open_amount"] * 100) for r in state.values())
        == truth["open_total_cents_after"]
    )
    assert not set(truth["deleted"]) & set(state) and set(truth["inserted"]) <= set(state)
    rolled = truth["rolled_back_doc"]
    assert state[rolled]["oi_open_amount"] == state_at(lake, items, 0)[rolled]["oi_open_amount"]


def _next_day_extract(lake: Lake, position: int, wrong: int | None = None) -> str | None:
    """Write a next-day full extract holding the journal's state at `position` (taken at
    that position, said in its header); with `wrong`, one customer's credit limit differs."""
    from pipelines.embedded.demo import legacy_files as lf
    from pipelines.sources.legacy.feeds import feed_by_name

    rows = sorted(state_at(lake, JOURNAL, position).values(), key=lambda r: r["cm_cust_no"])
    changed = None
    if wrong is not None:
        changed = str(rows[wrong]["cm_cust_no"])
        rows[wrong] = rows[wrong] | {"cm_credit_limit": rows[wrong]["cm_credit_limit"] + 1}
    writer = lf.ExtractWriter(
        feed_by_name("customers"),
        lake.legacy_landing / "customers" / "ARCUST_D20261031.dat",
        date(2026, 10, 31),
        journal_sequence=position,
    )
    cents = np.array([int(r["cm_credit_limit"] * 100) for r in rows])
    c = {
        "cust_no": np.array([r["cm_cust_no"] for r in rows]),
        **{
            k: [r[f"cm_{col}"] for r in rows]
            for k, col in (
                ("name", "name"),
                ("street", "street"),
                ("postcode", "postcode"),
                ("city", "city"),
                ("country", "country"),
                ("vat", "vat_id"),
                ("iban", "iban"),
                ("contact", "contact"),
                ("email", "email"),
                ("currency", "currency"),
                ("terms", "pay_terms"),
                ("status", "status"),
            )
        },
        "credit": cents,
        "created": np.array(
            [(r["cm_created"] - date(1970, 1, 1)).days if r["cm_created"] else 0 for r in rows]
        ),
        "risk": np.array([r["cm_risk_class"] for r in rows]),
    }
    writer.write(lf.customer_records(writer, c), {"cm_credit_limit": cents})
    writer.close()
    return changed


def _refresh(lake: Lake):
    from pipelines.sources.journals.state import refresh_state

    return refresh_state(lake, JOURNAL, "day2")


def test_a_newer_extract_that_agrees_rebaselines_without_drift(lake: Lake) -> None:
    truth = _truth(lake)
    apply_journal(lake, JOURNAL, "r1")
    _refresh(lake)
    middle = (truth["extract_position"] + truth["last_sequence"]) // 2
    _next_day_extract(lake, middle)  # taken half-way through the journal
    extract_legacy(lake)
    report = _refresh(lake)
    assert report.rebaselined_to == "2026-10-31"
    undated = [d for d in report.drift.differences if d.get("column_name") != "cm_created"]
    assert undated == []  # (a created date that did not decode is rewritten as a real one)
    state = load_state(lake, "customers")
    assert state["baseline"] == {"extract_date": "2026-10-31", "sequence": middle}
    _assert_truth(lake)  # the entries after the new position still apply on top
    table = DeltaTable(str(lake.legacy_cdc / "customers")).to_pyarrow_table()
    assert table.num_rows == truth["rows_after"]


def test_a_newer_extract_that_disagrees_is_recorded_as_drift_and_wins(lake: Lake) -> None:
    truth = _truth(lake)
    apply_journal(lake, JOURNAL, "r1")
    _refresh(lake)
    wrong = _next_day_extract(lake, truth["last_sequence"], wrong=7)
    journal_value = _credit(lake)[wrong]
    extract_legacy(lake)
    report = _refresh(lake)
    found = {
        (d["record_key"], d["column_name"])
        for d in report.drift.differences
        if d.get("column_name") != "cm_created"
    }
    assert found == {(wrong, "cm_credit_limit")}
    drift_rows = DeltaTable(str(lake.cdc_drift)).to_pyarrow_table().to_pylist()
    assert any(r["record_key"] == wrong for r in drift_rows)
    state = DeltaTable(str(lake.legacy_cdc / "customers")).to_pyarrow_table(
        filters=[("cm_cust_no", "=", int(wrong))]
    )
    assert int(state["cm_credit_limit"][0].as_py() * 100) == journal_value + 100  # extract wins
    # `cdc drift` with its defaults shows exactly that comparison
    again = drift(lake, JOURNAL, "r3")
    assert {(d["record_key"], d["column_name"]) for d in again.differences} >= found


def test_a_journal_image_that_does_not_decode_is_quarantined_not_applied(lake: Lake) -> None:
    truth = _truth(lake)
    entries = _entries(lake)
    i, victim = next(
        (i, e)
        for i, e in enumerate(entries)
        if _kind(e)[1] == "UP" and _kind(e)[0] > truth["extract_position"]
    )
    bad = bytearray(victim)
    key_at = 89 + 1  # JOESD follows the 89-byte DSPJRN header; CM-CUST-NO after the rec type
    bad[key_at] = 0x7D  # not a zoned digit
    entries[i] = bytes(bad)
    _deliver(lake, entries)
    report = apply_journal(lake, JOURNAL, "r1")
    assert report.quarantined == 1 and report.gap is None
    (receiver,) = report.per_receiver
    counts = report.per_receiver[receiver]
    assert sum(counts.values()) == len(entries) and counts["quarantined"] == 1
    q = DeltaTable(str(lake.legacy_cdc / "quarantine")).to_pyarrow_table().to_pylist()
    assert [(r["sequence"], r["entry_number"], r["source_file"]) for r in q] == [
        (_kind(victim)[0], i + 1, receiver)
    ]
    assert "CM-CUST-NO" in q[0]["reason"]
    assert _kind(victim)[0] not in _log_sequences(lake)


def test_a_receiver_for_another_object_is_reported_not_applied(lake: Lake) -> None:
    entries = _entries(lake)
    foreign = [e[: 79 - 10] + "ARPAYMP   ".encode(CP) + e[79:] for e in entries[:5]]
    _deliver(lake, entries, foreign)
    report = apply_journal(lake, JOURNAL, "r1")
    assert "JRNCUST_R000002.dat" in report.rejected
    assert "ARPAYMP" in report.rejected["JRNCUST_R000002.dat"]
    _assert_truth(lake)


def test_a_bad_receiver_is_refused_whole_and_the_journal_waits_at_its_gap(lake: Lake) -> None:
    """An empty, a cut-short and a random-bytes receiver are each refused by name with the
    reason (and byte offset); the good receivers apply up to the gap the bad ones leave, and
    when a good copy arrives the journal ends at the truth."""
    entries = _entries(lake)
    third = len(entries) // 3
    first, middle, last = entries[:third], entries[third : 2 * third], entries[2 * third :]
    cut = b"".join(middle)[: -ENTRY // 2]
    _deliver(lake, first, [], last)
    (_folder(lake) / "JRNCUST_R000002.dat").write_bytes(cut)
    (_folder(lake) / "JRNCUST_R000004.dat").write_bytes(b"")
    (_folder(lake) / "JRNCUST_R000005.dat").write_bytes(bytes(range(256)) * ENTRY)
    report = apply_journal(lake, JOURNAL, "r1")
    assert set(report.rejected) == {
        "JRNCUST_R000002.dat",
        "JRNCUST_R000004.dat",
        "JRNCUST_R000005.dat",
    }
    assert "truncated" in report.rejected["JRNCUST_R000002.dat"]
    assert "byte offset" in report.rejected["JRNCUST_R000002.dat"]
    assert "empty" in report.rejected["JRNCUST_R000004.dat"]
    assert "byte offset" in report.rejected["JRNCUST_R000005.dat"]
    assert report.gap is not None  # the middle's entries are missing: the journal waits
    assert report.watermark < _kind(middle[-1])[0]
    logged = {r["receiver"]: r for r in read_receiver_log(lake)}
    assert {n for n, r in logged.items() if r["status"] == "rejected"} == set(report.rejected)
    assert "byte offset" in logged["JRNCUST_R000002.dat"]["reason"]
    assert logged["JRNCUST_R000001.dat"]["status"] == "applied"
    version = DeltaTable(receiver_log_path(lake)).version()
    apply_journal(lake, JOURNAL, "r1b")  # nothing new: the file log gets no new version
    assert DeltaTable(receiver_log_path(lake)).version() == version
    for name in ("JRNCUST_R000004.dat", "JRNCUST_R000005.dat"):
        (_folder(lake) / name).unlink()
    (_folder(lake) / "JRNCUST_R000002.dat").write_bytes(b"".join(middle))  # a good copy
    again = apply_journal(lake, JOURNAL, "r2")
    assert not again.rejected and again.gap is None
    good = {r["receiver"]: r for r in read_receiver_log(lake)}["JRNCUST_R000002.dat"]
    assert good["status"] == "applied" and good["reason"] is None and good["run_id"] == "r2"
    _assert_truth(lake)


def test_entries_at_or_before_the_extracts_position_are_not_applied(lake: Lake) -> None:
    truth = _truth(lake)
    report = apply_journal(lake, JOURNAL, "r1")
    assert report.before_baseline > 0
    assert min(_log_sequences(lake)) > truth["extract_position"]
