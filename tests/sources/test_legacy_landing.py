"""Landing legacy extracts with dlt: balance, merge, idempotence, rejection, quarantine."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from deltalake import DeltaTable

from pipelines.embedded.demo import encoding
from pipelines.embedded.demo.generate import generate_demo
from pipelines.embedded.demo.world import Counters, generate_block
from pipelines.lake.paths import Lake
from pipelines.sources.extract import extract_legacy

AS_OF = date(2026, 10, 30)


def _rows(lake: Lake, table: str) -> list[dict]:
    path = lake.bronze_table("legacy", table)
    return DeltaTable(str(path)).to_pyarrow_table().to_pylist() if path.exists() else []


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake.from_url(str(tmp_path / "lake"))
    generate_demo(lake, customers=250, seed=11, as_of=AS_OF)
    return lake


def _file(lake: Lake, feed: str) -> Path:
    return next((lake.legacy_landing / feed).glob("*.dat"))


def test_every_record_is_landed_or_quarantined(lake: Lake) -> None:
    truth = json.loads(lake.demo_truth.read_text())
    result = extract_legacy(lake)
    assert {r.status for r in result.files} == {"loaded"}
    quarantine = _rows(lake, "quarantine")
    for feed, t in truth["files"].items():
        landed = _rows(lake, feed)
        q = [r for r in quarantine if r["feed"] == feed]
        assert len(landed) + len(q) == t["records"]
        assert len(q) == t["quarantined"]
        assert sum(r["_errors"] is not None for r in landed) == t["with_errors"]
    log = {r["source_file"]: r for r in _rows(lake, "file_log")}
    assert all(
        r["records_read"] == r["records_landed"] + r["records_quarantined"] for r in log.values()
    )


def test_quarantine_names_file_record_offset_field_and_reason(lake: Lake) -> None:
    extract_legacy(lake)
    rows = [r for r in _rows(lake, "quarantine") if r["feed"] == "customers"]
    assert rows
    for r in rows:
        assert r["source_file"] == f"customers/{_file(lake, 'customers').name}"
        assert r["byte_offset"] == (r["record_number"] - 1) * 320
        assert r["fields"] == "CM-CUST-NO"
        assert "invalid zoned digit" in r["reason"]
        assert len(r["raw_record_hex"]) == 640
        raw = bytes.fromhex(r["raw_record_hex"])
        assert raw == _file(lake, "customers").read_bytes()[r["byte_offset"] :][:320]
        assert json.loads(r["errors"])[0]["raw_hex"] == raw[1:9].hex().upper()


def test_decoded_values_equal_what_the_generator_wrote(lake: Lake) -> None:
    extract_legacy(lake)
    block = generate_block(np.random.default_rng(11), 0, 250, AS_OF, Counters())
    c = block.customers
    by_no = {r["cm_cust_no"]: r for r in _rows(lake, "customers")}
    checked = 0
    for i, no in enumerate(c["cust_no"]):
        row = by_no.get(int(no))
        if row is None or row["_errors"]:
            continue  # quarantined or deliberately corrupted
        assert row["cm_name"] == c["name"][i]
        assert row["cm_city"] == c["city"][i]
        assert row["cm_email"] == c["email"][i]
        assert row["cm_iban"] == c["iban"][i]
        assert row["cm_credit_limit"] == Decimal(int(c["credit"][i])).scaleb(-2)
        assert row["cm_created"] == date(1970, 1, 1).fromordinal(
            date(1970, 1, 1).toordinal() + int(c["created"][i])
        )
        assert row["cm_risk_class"] == int(c["risk"][i])
        checked += 1
    assert checked > 240
    items = {r["oi_doc_no"]: r for r in _rows(lake, "open_items")}
    it = block.items
    for i in range(0, len(it["doc_no"]), 7):
        row = items.get(it["doc_no"][i])
        if row is None or row["_errors"]:
            continue
        assert row["oi_amount"] == Decimal(int(it["amount"][i])).scaleb(-2)
        assert row["oi_open_amount"] == Decimal(int(it["open"][i])).scaleb(-2)
        assert row["oi_text"] == it["text"][i]


def test_second_extract_without_new_files_changes_nothing(lake: Lake) -> None:
    extract_legacy(lake)
    versions = {
        t: DeltaTable(str(lake.bronze_table("legacy", t))).version()
        for t in ("customers", "open_items", "payments", "quarantine", "file_log")
    }
    again = extract_legacy(lake)
    assert again.files == [] and again.skipped_files == 3
    assert versions == {
        t: DeltaTable(str(lake.bronze_table("legacy", t))).version() for t in versions
    }


def test_redelivered_file_is_merged_not_duplicated(lake: Lake) -> None:
    extract_legacy(lake)
    before = len(_rows(lake, "payments"))
    f = _file(lake, "payments")
    os.utime(f, (f.stat().st_atime, f.stat().st_mtime + 60))  # same name, new delivery
    result = extract_legacy(lake)
    assert [r.file for r in result.files] == [f"payments/{f.name}"]
    rows = _rows(lake, "payments")
    assert len(rows) == before
    assert len({r["pm_payment_id"] for r in rows}) == before


def _second_delivery(lake: Lake, feed: str, mutate) -> Path:
    src = _file(lake, feed)
    data = bytearray(src.read_bytes())
    mutate(data)
    dst = src.with_name(src.name.replace("20261030", "20261031"))
    dst.write_bytes(bytes(data))
    return dst


def test_trailer_count_mismatch_rejects_the_whole_file(lake: Lake) -> None:
    extract_legacy(lake)
    before = len(_rows(lake, "payments"))

    def drop_record(data: bytearray) -> None:
        del data[60:120]  # one detail record vanished in transit

    bad = _second_delivery(lake, "payments", drop_record)
    result = extract_legacy(lake)
    (report,) = result.files
    assert report.status == "rejected"
    assert "trailer says" in report.reason and bad.name in report.reason
    assert len(_rows(lake, "payments")) == before
    assert not [r for r in _rows(lake, "quarantine") if r["source_file"].endswith(bad.name)]
    log = {r["source_file"]: r for r in _rows(lake, "file_log")}
    assert log[f"payments/{bad.name}"]["status"] == "rejected"
    assert extract_legacy(lake).files == []  # a rejected delivery is not retried until replaced


def test_hash_total_mismatch_rejects_the_file(lake: Lake) -> None:
    extract_legacy(lake)
    before = {r["oi_doc_no"]: r["oi_amount"] for r in _rows(lake, "open_items")}

    def change_amount(data: bytearray) -> None:
        off = 120 + 33  # first detail record, OI-AMOUNT
        data[off : off + 7] = encoding.packed(np.array([123456]), 7).tobytes()

    _second_delivery(lake, "open_items", change_amount)
    (report,) = extract_legacy(lake).files
    assert report.status == "rejected" and "hash total ot_hash_amount" in report.reason
    assert {r["oi_doc_no"]: r["oi_amount"] for r in _rows(lake, "open_items")} == before


def test_truncated_file_is_rejected_naming_the_offset(lake: Lake) -> None:
    bad = _second_delivery(lake, "customers", lambda d: d.__delitem__(slice(-7, None)))
    reports = {r.file: r for r in extract_legacy(lake).files}
    report = reports[f"customers/{bad.name}"]
    assert report.status == "rejected"
    assert "byte offset" in report.reason and "truncated" in report.reason


def _packed_value(raw: bytes | bytearray) -> int:
    """Independent of the decoder: the hex digits are the number, the last nibble the sign."""
    digits = bytes(raw).hex()
    return int(digits[:-1]) * (-1 if digits[-1] == "d" else 1)


def test_duplicate_keys_in_a_file_are_quarantined(lake: Lake) -> None:
    src = _file(lake, "payments")
    data = bytearray(src.read_bytes())
    # record 3 becomes a copy of record 2: same key, and the trailer still balances
    # because the hash total is fixed up the way the exporting job would have computed it
    first, third = data[60:120], data[120:180]
    delta = _packed_value(first[35:42]) - _packed_value(third[35:42])
    data[120:180] = first
    trailer = len(data) - 60
    total = _packed_value(data[trailer + 10 : trailer + 20]) + delta
    data[trailer + 10 : trailer + 20] = encoding.packed(np.array([total]), 10).tobytes()
    src.write_bytes(bytes(data))
    (report, *_) = [r for r in extract_legacy(lake).files if r.feed == "payments"]
    assert report.status == "loaded", report.reason
    q = [
        r for r in _rows(lake, "quarantine") if r["feed"] == "payments" and r["record_number"] == 3
    ]
    assert len(q) == 1 and "duplicate key: first at record 2" in q[0]["reason"]


def test_strict_extract_stops_at_the_first_bad_value_and_lands_nothing(lake: Lake) -> None:
    from pipelines.sources.extract import ExtractFailed

    with pytest.raises(ExtractFailed, match=r"record \d+ at byte offset \d+: field CM-"):
        extract_legacy(lake, strict=True)
    assert not lake.bronze_table("legacy", "customers").exists()
    truth = json.loads(lake.demo_truth.read_text())
    extract_legacy(lake)  # the normal run afterwards lands everything exactly once
    t = truth["files"]["customers"]
    assert len(_rows(lake, "customers")) == t["records"] - t["quarantined"]


def test_a_broken_copybook_holds_its_feed_only_and_names_file_line_column(lake: Lake) -> None:
    """Copybooks are checked at the start of every run: a syntax error names the file, line
    and column; that feed's files wait (not marked processed), the other feeds land."""
    from pipelines.sources.extract import extract_legacy

    copybook = lake.copybooks / "ARPAYM.cpy"
    good = copybook.read_text()
    lines = good.splitlines()
    lines[3] = lines[3].replace("PIC", "PIC PIC (")
    copybook.write_text("\n".join(lines) + "\n")
    result = extract_legacy(lake)
    assert set(result.broken_copybooks) == {"payments"}
    why = result.broken_copybooks["payments"]
    assert why.startswith("ARPAYM.cpy") and "line 4" in why and "column" in why
    assert {r.feed for r in result.files} == {"customers", "open_items"}
    copybook.write_text(good)  # fixed: the waiting file lands on the next run
    again = extract_legacy(lake)
    assert not again.broken_copybooks
    assert [r.feed for r in again.files] == ["payments"]
    assert again.files[0].status == "loaded"
