"""`ledgerbridge decode`: nested JSON Lines equal to Cobrix's rows, file outputs, --strict."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipelines.cli import cli
from tests.conftest import CONFORMANCE

pytestmark = pytest.mark.skipif(
    not CONFORMANCE.exists(), reason=f"conformance data not found at {CONFORMANCE}"
)


def _case(name: str) -> tuple[Path, Path]:
    folder = CONFORMANCE / name
    return next((folder / "data").iterdir()), next((folder / "copybook").iterdir())


def _cobrix_keys(obj: object) -> object:
    if isinstance(obj, dict):
        return {k.replace("-", "_"): _cobrix_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_cobrix_keys(v) for v in obj]
    return obj


def _drop_nulls(obj: object) -> object:
    """Spark's JSON omits null fields; ours writes them."""
    if isinstance(obj, dict):
        return {k: _drop_nulls(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_nulls(v) for v in obj]
    return obj


def _t17c_expected() -> list[dict]:
    """Cobrix's parent/child rows for t17, without its generated id columns."""
    path = CONFORMANCE / "t17_hierarchical_multisegment_vrl" / "expected" / "test17c.txt"
    generated = ("File_Id", "Record_Id", "Record_Byte_Length", "Seg_Id0", "Seg_Id1")
    rows = [json.loads(x, parse_float=Decimal) for x in path.read_text().split("\n") if x]
    return [{k: v for k, v in r.items() if k not in generated} for r in rows]


def test_decode_writes_nested_json_lines_like_cobrix() -> None:
    data, copybook = _case("t01_fixed_comp3_odo_redefines")
    result = CliRunner().invoke(
        cli,
        [
            "decode",
            str(data),
            "--copybook",
            str(copybook),
            "--encoding",
            "common",
            "--trim",
            "both",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [x for x in result.stdout.splitlines() if x.startswith("{")]
    expected = CONFORMANCE / "t01_fixed_comp3_odo_redefines" / "expected" / "test1.txt"
    want = [json.loads(x, parse_float=Decimal) for x in expected.read_text().split("\n") if x]
    got = [_cobrix_keys(json.loads(x, parse_float=Decimal)) for x in lines[: len(want)]]
    assert got == want


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_decode_writes_files(tmp_path: Path, suffix: str) -> None:
    data, copybook = _case("t03_fixed_binary_decimal_trimming")
    out = tmp_path / f"out.{suffix}"
    result = CliRunner().invoke(
        cli, ["decode", str(data), "--copybook", str(copybook), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    if suffix == "parquet":
        table = pq.read_table(out)
        assert (
            table.num_rows == 1000 and str(table.schema.field("amount").type) == "decimal128(11, 2)"
        )
    elif suffix == "csv":
        assert pacsv.read_csv(out).num_rows == 1000
    else:
        assert len(out.read_text().splitlines()) == 1000


def test_strict_stops_at_the_first_bad_value_naming_record_and_field() -> None:
    data, copybook = _case("t19_display_numerics")
    ok = CliRunner().invoke(cli, ["decode", str(data), "--copybook", str(copybook)])
    assert ok.exit_code == 0 and '"_errors"' in ok.stdout
    strict = CliRunner().invoke(cli, ["decode", str(data), "--copybook", str(copybook), "--strict"])
    assert strict.exit_code != 0
    assert "record 7 at byte offset 480" in strict.output and "WS-DATE-NUM" in strict.output


def test_wrong_framing_is_a_clear_error() -> None:
    data, copybook = _case("t03_fixed_binary_decimal_trimming")
    result = CliRunner().invoke(
        cli, ["decode", str(data), "--copybook", str(copybook), "--record-format", "V"]
    )
    assert result.exit_code != 0 and "byte offset 0" in result.output


def test_t21_nested_variable_size_occurs_in_ascii() -> None:
    """Records split only by their counters; empty arrays stay empty arrays."""
    data, copybook = _case("t21_odo_variable_size_ascii")
    result = CliRunner().invoke(
        cli,
        [
            "decode",
            str(data),
            "--copybook",
            str(copybook),
            "--encoding",
            "ascii",
            "--variable-size-occurs",
        ],
    )
    assert result.exit_code == 0, result.output
    got = [
        {"RECORD": _cobrix_keys(json.loads(x))}
        for x in result.stdout.splitlines()
        if x.startswith("{")
    ]
    expected = CONFORMANCE / "t21_odo_variable_size_ascii" / "expected" / "test21.txt"
    assert got == [json.loads(x) for x in expected.read_text().split("\n") if x]


def test_vb_blocks_stream_to_the_same_records_as_v(tmp_path: Path) -> None:
    """VB = BDW blocks of RDW records: re-block a V file (IBM RDWs) and decode both."""
    from pipelines.decoding.execution.reader import read_records
    from pipelines.decoding.records.framing import Framing, frame

    be = CONFORMANCE / "t05_multisegment_vrl_rdw" / "data" / "COMP.DETAILS.FEB02.DATA.RDW.BE.dat"
    raw = be.read_bytes()
    v = Framing(record_format="V", rdw_includes_header=False)
    starts, lengths = frame(raw, v, 64)
    # IBM V records: RDW length counts its own 4 bytes; 10 records a block
    records = [len_.to_bytes(2, "big") for len_ in (lengths + 4).tolist()]
    spans = zip(records, starts, lengths, strict=True)
    body = [rec + b"\x00\x00" + raw[s : s + n] for rec, s, n in spans]
    blocks = b""
    for i in range(0, len(body), 10):
        block = b"".join(body[i : i + 10])
        blocks += (len(block) + 4).to_bytes(2, "big") + b"\x00\x00" + block
    vb = tmp_path / "data.vb"
    vb.write_bytes(blocks)
    got = list(read_records(str(vb), Framing(record_format="VB"), 64, block_bytes=4096))
    assert sum(len(c.offsets) for c in got) == len(starts)
    want = list(read_records(str(be), v, 64))
    assert np.array_equal(
        np.concatenate([c.records for c in got]), np.concatenate([c.records for c in want])
    )


def test_t17c_parent_child_segments_nest_under_their_parents() -> None:
    from pipelines.copybook import parse_copybook
    from pipelines.decoding.execution.decode_file import decode_file
    from pipelines.decoding.records.decode import DecodeOptions
    from pipelines.decoding.records.framing import Framing
    from pipelines.decoding.records.nested import assemble_hierarchy, nest

    data, copybook = _case("t17_hierarchical_multisegment_vrl")
    layout = next(iter(parse_copybook(copybook.read_text()).values()))
    seg_map = {
        "1": "COMPANY",
        "2": "DEPT",
        "3": "EMPLOYEE",
        "4": "OFFICE",
        "5": "CUSTOMER",
        "6": "CONTACT",
        "7": "CONTRACT",
    }
    opts = DecodeOptions(
        codepage="common",
        trim="both",
        segment_field="SEGMENT-ID",
        segment_map=seg_map,
        display_numbers="relaxed",
    )
    framing = Framing(record_format="V", rdw_big_endian=False, rdw_includes_header=False)

    def records():
        for batch in decode_file(str(data), layout, opts, framing):
            for row in batch.table.to_pylist():
                yield nest(row, layout), seg_map[str(row["segment_id"])]

    children = {
        "COMPANY": ["DEPT", "CUSTOMER"],
        "DEPT": ["EMPLOYEE", "OFFICE"],
        "CUSTOMER": ["CONTACT", "CONTRACT"],
    }

    got = [_drop_nulls(_cobrix_keys(r)) for r in assemble_hierarchy(records(), children)]
    want = _t17c_expected()
    assert len(want) == 50
    assert got[:50] == want


def test_decode_segment_children_option_nests_like_cobrix() -> None:
    data, copybook = _case("t17_hierarchical_multisegment_vrl")
    args = [
        "decode",
        str(data),
        "--copybook",
        str(copybook),
        "--encoding",
        "common",
        "--trim",
        "both",
        "--record-format",
        "V",
        "--rdw-little-endian",
        "--rdw-excludes-header",
        "--display-numbers",
        "relaxed",
        "--segment-field",
        "SEGMENT-ID",
        "--segment-map",
        "1=COMPANY,2=DEPT,3=EMPLOYEE,4=OFFICE,5=CUSTOMER,6=CONTACT,7=CONTRACT",
        "--segment-children",
        "COMPANY=DEPT;CUSTOMER,DEPT=EMPLOYEE;OFFICE,CUSTOMER=CONTACT;CONTRACT",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output

    got = [
        _drop_nulls(_cobrix_keys(json.loads(x, parse_float=Decimal)))
        for x in result.stdout.splitlines()
        if x.startswith("{")
    ]
    want = _t17c_expected()
    assert got[:50] == want
