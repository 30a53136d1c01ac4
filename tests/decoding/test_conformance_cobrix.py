"""The decoder against Cobrix's reference decodings of real EBCDIC files (independent data).

Cases come from ../shared/conformance/cobrix (Apache-2.0, see its LICENSE-NOTICE). Cases
that need features of the complete engine (issue 3: ODO, RDW, multisegment, edited PICs)
are added there; these pin what the current engine does.
"""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from pipelines.copybook import parse_copybook
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk
from pipelines.decoding.records.framing import Framing, FramingError, frame, gather
from tests.conftest import CONFORMANCE

pytestmark = pytest.mark.skipif(
    not CONFORMANCE.exists(), reason=f"conformance data not found at {CONFORMANCE}"
)


def _case(name: str) -> Path:
    return CONFORMANCE / name


def _decode(case: str, codepage: str, trim: str) -> list[dict]:
    folder = _case(case)
    layout = next(iter(parse_copybook(next((folder / "copybook").iterdir()).read_text()).values()))
    data = next((folder / "data").iterdir()).read_bytes()
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
    table, faults = decode_chunk(records, layout, DecodeOptions(codepage=codepage, trim=trim))
    assert not faults
    return table.to_pylist()


def _expected(case: str, file: str) -> list[dict]:
    lines = (_case(case) / "expected" / file).read_text(encoding="utf-8").split("\n")
    return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


def _cobrix_names(row: dict) -> dict:
    return {k.upper(): v for k, v in row.items()}


@pytest.mark.parametrize(
    ("file", "trim"),
    [
        ("test3_trim_none.txt", "none"),
        ("test3_trim_left.txt", "left"),
        ("test3_trim_right.txt", "right"),
        ("test3_trim_both.txt", "both"),
    ],
)
def test_t03_binary_decimal_and_trimming(file: str, trim: str) -> None:
    rows = [
        r
        for r in _decode("t03_fixed_binary_decimal_trimming", "cp037", trim)
        if r["signature"].strip() == "S9276511"
    ]
    expected = _expected("t03_fixed_binary_decimal_trimming", file)
    assert len(expected) == 60
    for got, want in zip(rows, expected, strict=False):
        assert _cobrix_names(got) == want


# Documented differences between CPython's/`ebcdic`'s tables and Cobrix's, all outside the
# printable repertoire (see the case README): control characters, and cp273 0xBC.
def _printable(text: str) -> str:
    return "".join(
        " " if unicodedata.category(c).startswith("C") else c
        for c in text.replace("\u203e", "\u00af")
    )


@pytest.mark.parametrize(
    ("file", "codepage"),
    [
        ("test9_cp273.txt", "cp273"),
        ("test9_cp1141.txt", "cp1141"),
        ("test9_cp500.txt", "cp500"),
        ("test9_cp1140.txt", "cp1140"),
        ("test9_cp1148.txt", "cp1148"),
        ("test9_cp037_ext.txt", "cp037"),
    ],
)
def test_t09_code_pages(file: str, codepage: str) -> None:
    rows = _decode("t09_code_pages", codepage, "none")
    expected = _expected("t09_code_pages", file)
    assert len(expected) == 60
    for got, want in zip(rows, expected, strict=False):
        got = _cobrix_names(got)
        for key, value in want.items():
            if isinstance(value, str):
                assert _printable(got[key]) == _printable(value), key
            else:
                assert got[key] == value, key


def test_t09_cp1141_has_the_euro_where_cp273_has_the_currency_sign() -> None:
    cp273 = _decode("t09_code_pages", "cp273", "none")[1]["company_name_np"]
    cp1141 = _decode("t09_code_pages", "cp1141", "none")[1]["company_name_np"]
    assert "¤" in cp273 and "€" in cp1141


def _same_number(got: object, want: object) -> bool:
    if isinstance(want, float | Decimal) and isinstance(got, float):
        return abs(got - float(want)) <= 1e-6 * max(1.0, abs(float(want)))
    return Decimal(str(got)) == Decimal(str(want))


def test_t06_every_numeric_usage() -> None:
    """Zoned with overpunch, separate and leading signs, explicit points, edited PICs,
    binary and packed up to 37 digits, P scaling and IEEE floats (the case's option)."""
    folder = _case("t06_numeric_type_variety")
    layout = next(iter(parse_copybook(next((folder / "copybook").iterdir()).read_text()).values()))
    data = next((folder / "data").iterdir()).read_bytes()
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
    opts = DecodeOptions(codepage="cp037", trim="both", float_format="ieee")
    table, faults = decode_chunk(records, layout, opts)
    assert not faults, [(f.field.name, f.reasons[f.bad][:2]) for f in faults]
    rows = [_cobrix_names(r) for r in table.to_pylist()]
    expected = _expected("t06_numeric_type_variety", "test6.txt")
    assert len(expected) == 100
    mismatches = []
    for i, (got, want) in enumerate(zip(rows, expected, strict=False)):
        for key, value in want.items():
            g = got.get(key)
            same = (
                g == value if isinstance(value, str) else (g is not None and _same_number(g, value))
            )
            if not same:
                mismatches.append((i, key, g, value))
        missing = {k for k, v in got.items() if v is not None} - set(want)
        mismatches += [(i, k, got[k], None) for k in missing if not isinstance(got[k], str)]
    assert not mismatches, mismatches[:20]


def test_t19_display_numbers_blanks_and_letters() -> None:
    """Letters in numeric fields → null with a fault naming the field; explicit decimal
    point with leading spaces decodes. One documented difference: an all-blank numeric is
    null under our rule, where Cobrix (improved_null_detection=false) gives 0.00."""
    folder = _case("t19_display_numerics")
    layout = next(iter(parse_copybook(next((folder / "copybook").iterdir()).read_text()).values()))
    data = next((folder / "data").iterdir()).read_bytes()
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
    table, faults = decode_chunk(records, layout, DecodeOptions(codepage="cp037", trim="both"))
    rows = [_cobrix_names(r) for r in table.to_pylist()]
    expected = _expected("t19_display_numerics", "test19.txt")
    assert len(rows) == len(expected) == 7
    blank_by_our_rule = {(5, "WS_AMOUNT_FRACTION")}
    for i, (got, want) in enumerate(zip(rows, expected, strict=True)):
        for key, g in got.items():
            w = want.get(key)
            if (i, key) in blank_by_our_rule:
                assert g is None and w == Decimal("0.00")
            elif w is None:
                assert g is None, (i, key, g)
            elif isinstance(w, str):
                assert g == w, (i, key)
            else:
                assert _same_number(g, w), (i, key, g, w)
    faulty = {(f.field.name, int(r)) for f in faults for r in np.flatnonzero(f.bad)}
    assert {("WS-DATE-NUM", 6), ("WS-AMOUNT-NUMERIC", 6), ("WS-AMOUNT-FRACTION", 6)} == faulty


def _json_stream(text: str) -> list[dict]:
    """A stream of (pretty-printed) JSON objects, as Spark's toJSON rows joined by newlines."""
    decoder = json.JSONDecoder(parse_float=Decimal)
    out, pos = [], 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " \n\r\t[],":
            pos += 1
        if pos >= len(text):
            break
        obj, pos = decoder.raw_decode(text, pos)
        out.append(obj)
    return out


def _flatten(obj: dict, parent: str = "", suffix: str = "") -> dict[str, object]:
    """Cobrix's nested rows in our flat naming: leaf names, OCCURS elements as _N, and a
    name that repeats in the record qualified by its group (PERSON_ADDRESS)."""
    out: dict[str, object] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            for k, v in _flatten(value, key, suffix).items():
                out[k] = v
        elif isinstance(value, list):
            for i, element in enumerate(value, start=1):
                out.update(_flatten(element, key, f"{suffix}_{i}"))
        else:
            out[f"{key}{suffix}"] = value
            out[f"{parent}_{key}{suffix}"] = value  # the qualified spelling, if ours uses it
    return out


def _compare_flat(rows: list[dict], expected: list[dict]) -> list[tuple]:
    mismatches = []
    for i, (got, want) in enumerate(zip(rows, expected, strict=False)):
        flat = _flatten(want)
        for key, g in got.items():
            w = flat.get(key)
            same = g == w if isinstance(w, str) or w is None else _same_number(g, w)
            if not same:
                mismatches.append((i, key, g, w))
    return mismatches


def _decode_case(case: str, opts: DecodeOptions) -> tuple[list[dict], list]:
    folder = _case(case)
    text = next((folder / "copybook").iterdir()).read_text()
    layout = next(iter(parse_copybook(text).values()))
    data = next((folder / "data").iterdir()).read_bytes()
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
    table, faults = decode_chunk(records, layout, opts)
    rows = [{k.upper(): v for k, v in r.items()} for r in table.to_pylist()]
    return rows, faults


def test_t01_occurs_depending_on_and_redefines() -> None:
    """ODO in the fixed-maximum layout: elements past NUMBER-OF-ACCTS are null (Cobrix
    omits them); both sides of a REDEFINES are decoded."""
    rows, _ = _decode_case(
        "t01_fixed_comp3_odo_redefines", DecodeOptions(codepage="cp037", trim="both")
    )
    expected = _expected("t01_fixed_comp3_odo_redefines", "test1.txt")
    assert len(expected) >= 10
    assert not _compare_flat(rows, expected)


def test_t16_segment_id_selects_the_redefines_branch() -> None:
    opts = DecodeOptions(
        codepage="cp037",
        trim="both",
        segment_field="SEGMENT-ID",
        segment_map={"C": "COMPANY", "P": "PERSON", "B": "PO-BOX"},
    )
    rows, faults = _decode_case("t16_fixed_multisegment_redefines", opts)
    expected = _json_stream(
        (_case("t16_fixed_multisegment_redefines") / "expected" / "test16.txt").read_text()
    )
    assert len(expected) == 50 and not faults
    assert not _compare_flat(rows, expected)


GENERATED = ("FILE_ID", "RECORD_ID", "RECORD_BYTE_LENGTH", "SEG_ID0", "SEG_ID1")


def _decode_framed(
    case: str,
    data_name: str,
    copybook_name: str,
    framing: Framing,
    opts: DecodeOptions,
    length_field: str | None = None,
) -> tuple[list, list]:
    folder = _case(case)
    layout = next(iter(parse_copybook((folder / "copybook" / copybook_name).read_text()).values()))
    data = (folder / "data" / data_name).read_bytes()
    length_of = None
    if length_field:
        f = layout.field(length_field)

        def length_of(buf: bytes, pos: int) -> int:
            raw = buf[pos + f.offset : pos + f.offset + f.size]
            return int.from_bytes(raw, "big") + framing.rdw_adjustment

    starts, lengths = frame(data, framing, layout.size, data_name, length_of)
    records = gather(np.frombuffer(data, dtype=np.uint8), starts, lengths, layout.size)
    table, faults = decode_chunk(records, layout, opts)
    return [{k.upper(): v for k, v in r.items()} for r in table.to_pylist()], faults


def _strip_generated(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in GENERATED} for r in rows]


def test_t13a_fixed_length_with_file_header_and_footer() -> None:
    framing = Framing(file_start_offset=10, file_end_offset=12)
    rows, _ = _decode_framed(
        "t13_file_header_footer_offsets",
        "TRAN2.JUN24.DATA.dat",
        "test13a_file_header_footer.cob",
        framing,
        DecodeOptions(codepage="cp037", trim="both"),
    )
    rows.sort(key=lambda r: (r["COMPANY_ID"], r["AMOUNT"]))
    expected = _expected("t13_file_header_footer_offsets", "test13a.txt")
    assert len(rows) == len(expected) == 50
    assert not _compare_flat(rows, expected)
    with pytest.raises(FramingError, match="byte offset"):
        _decode_framed(
            "t13_file_header_footer_offsets",
            "TRAN2.JUN24.DATA.dat",
            "test13a_file_header_footer.cob",
            Framing(),
            DecodeOptions(),
        )


def test_t13b_variable_length_with_file_header_and_footer() -> None:
    framing = Framing(
        record_format="V", rdw_includes_header=False, file_start_offset=100, file_end_offset=120
    )
    rows, _ = _decode_framed(
        "t13_file_header_footer_offsets",
        "COMP.DETAILS.JUN02.DATA.RDW.BE.dat",
        "test13b_vrl_file_headers.cob",
        framing,
        DecodeOptions(codepage="common", trim="both"),
    )
    expected = _strip_generated(_expected("t13_file_header_footer_offsets", "test13b.txt"))
    assert len(rows) == len(expected) == 20
    assert not _compare_flat(rows, expected)


@pytest.mark.parametrize(
    "framing",
    [
        Framing(record_format="V", rdw_big_endian=False, rdw_includes_header=True),
        Framing(
            record_format="V", rdw_big_endian=False, rdw_includes_header=False, rdw_adjustment=-4
        ),
    ],
)
def test_t14_rdw_counting_its_header(framing: Framing) -> None:
    opts = DecodeOptions(
        codepage="common",
        trim="both",
        segment_field="SEGMENT-ID",
        segment_map={"C": "STATIC-DETAILS", "D": "STATIC-DETAILS", "P": "CONTACTS"},
    )
    rows, _ = _decode_framed(
        "t14_rdw_counts_header",
        "COMP.DETAILS.JUL02.DATA.dat",
        next((_case("t14_rdw_counts_header") / "copybook").iterdir()).name,
        framing,
        opts,
    )
    expected = _strip_generated(_expected("t14_rdw_counts_header", "test14.txt"))
    assert len(rows) == 100
    assert not _compare_flat(rows, expected)


T05_MAP = {"C": "STATIC-DETAILS", "D": "STATIC-DETAILS", "P": "CONTACTS"}


@pytest.mark.parametrize(
    ("expected_file", "data", "copybook", "framing", "segment_map", "length_field"),
    [
        (
            "test5.txt",
            "COMP.DETAILS.SEP30.DATA.dat",
            "test5_copybook.cob",
            Framing(record_format="V", rdw_big_endian=False, rdw_includes_header=False),
            {},
            None,
        ),
        (
            "test5b.txt",
            "COMP.DETAILS.FEB02.DATA.RDW.BE.dat",
            "test5_copybook.cob",
            Framing(record_format="V", rdw_includes_header=False),
            {},
            None,
        ),
        (
            "test5c.txt",
            "COMP.DETAILS.SEP30.DATA.dat",
            "test5_copybook.cob",
            Framing(record_format="V", rdw_big_endian=False, rdw_includes_header=False),
            T05_MAP,
            None,
        ),
        (
            "test5d.txt",
            "COMP.DETAILS.FEB02.DATA.RDW.BE.dat",
            "test5d_copybook.cob",
            Framing(rdw_adjustment=4),
            {},
            "RECORD-LENGTH",
        ),
    ],
)
def test_t05_multisegment_variable_length(
    expected_file: str,
    data: str,
    copybook: str,
    framing: Framing,
    segment_map: dict[str, str],
    length_field: str | None,
) -> None:
    """RDW in both byte orders, or the length from a field; records shorter than the
    copybook; with a segment map only the matching REDEFINES branch is kept."""
    opts = DecodeOptions(
        codepage="common", trim="both", segment_field="SEGMENT-ID", segment_map=segment_map
    )
    rows, _ = _decode_framed(
        "t05_multisegment_vrl_rdw", data, copybook, framing, opts, length_field
    )
    expected = _strip_generated(_expected("t05_multisegment_vrl_rdw", expected_file))
    assert len(rows) == 1000 and len(expected) > 0
    assert not _compare_flat(rows, expected)


def test_t08_control_bytes_become_spaces_under_the_default_policy() -> None:
    rows, faults = _decode_case(
        "t08_non_printable_chars", DecodeOptions(codepage="common", trim="both")
    )
    expected = _expected("t08_non_printable_chars", "test8_printable.txt")
    assert len(expected) == 60 and not faults
    assert not _compare_flat(rows, expected)


def test_t08_control_bytes_kept_on_request() -> None:
    rows, _ = _decode_case(
        "t08_non_printable_chars",
        DecodeOptions(codepage="common_extended", trim="none", controls="keep"),
    )
    expected = _expected("t08_non_printable_chars", "test8_non_printable.txt")
    assert not _compare_flat(rows, expected)


@pytest.mark.parametrize(("file", "debug"), [("test24.txt", "hex"), ("test24b.txt", "raw")])
def test_t24_debug_columns_carry_the_raw_bytes(file: str, debug: str) -> None:
    import base64

    opts = DecodeOptions(codepage="cp037", trim="both", float_format="ieee", debug=debug)
    rows, _ = _decode_case("t24_debug_raw_value_fields", opts)
    expected = _expected("t24_debug_raw_value_fields", file)
    assert len(expected) > 0
    for got, want in zip(rows, expected, strict=False):
        for key, value in want.items():
            if not key.endswith("_debug"):
                g = got[key]
                assert g == value if isinstance(value, str) else _same_number(g, value), key
                continue
            raw = got[key.upper()]
            shown = base64.b64encode(raw).decode() if debug == "raw" else raw
            assert shown == value, key


@pytest.mark.parametrize(
    ("file", "fillers", "naming"),
    [
        ("test7.txt", "drop", "sequence"),
        ("test7a.txt", "groups", "sequence"),
        ("test7b.txt", "values", "sequence"),
        ("test7c.txt", "all", "sequence"),
        ("test7d.txt", "all", "previous"),
    ],
)
def test_t07_filler_policies(file: str, fillers: str, naming: str) -> None:
    """FILLERs kept or dropped (elementary ones and FILLER groups separately), named by
    sequence or after the previous item; all-x'00' text is null (Cobrix's default)."""
    folder = _case("t07_filler_policies")
    text = next((folder / "copybook").iterdir()).read_text()
    layout = next(iter(parse_copybook(text, fillers=fillers, filler_naming=naming).values()))
    data = next((folder / "data").iterdir()).read_bytes()
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
    opts = DecodeOptions(codepage="common", trim="both", low_values_text_null=True)
    table, _ = decode_chunk(records, layout, opts)
    rows = [{k.upper(): v for k, v in r.items()} for r in table.to_pylist()]
    expected = _json_stream((folder / "expected" / file).read_text())  # one JSON array
    assert len(expected) == 100
    # the expected rows are Spark's orderBy("AMOUNT"): compare row sets per amount
    by_amount: dict[Decimal, list[dict]] = {}
    for r in rows:
        by_amount.setdefault(r["AMOUNT"], []).append(r)
    for want in expected:
        candidates = by_amount.get(Decimal(str(want["AMOUNT"])), [])
        assert any(not _compare_flat([c], [want]) for c in candidates), want


T17_MAP = {
    "1": "COMPANY",
    "2": "DEPT",
    "3": "EMPLOYEE",
    "4": "OFFICE",
    "5": "CUSTOMER",
    "6": "CONTACT",
    "7": "CONTRACT",
}


@pytest.mark.parametrize("file", ["test17a.txt", "test17b.txt"])
def test_t17_seven_segment_types_flat(file: str) -> None:
    """Seven segment types (a numeric segment id) behind little-endian RDWs; only the
    matching branch is kept. The file pads some DISPLAY numbers with x'00' ("33" + x'00' in
    a PIC 9(3)), which Cobrix reads as 33: our "relaxed" DISPLAY rule does the same (the
    default "strict" rule reports it). test17b's Seg_Id columns are Cobrix-generated."""
    folder = _case("t17_hierarchical_multisegment_vrl")
    framing = Framing(record_format="V", rdw_big_endian=False, rdw_includes_header=False)
    opts = DecodeOptions(
        codepage="common",
        trim="both",
        segment_field="SEGMENT-ID",
        segment_map=T17_MAP,
        display_numbers="relaxed",
    )
    rows, faults = _decode_framed(
        "t17_hierarchical_multisegment_vrl",
        next((folder / "data").iterdir()).name,
        next((folder / "copybook").iterdir()).name,
        framing,
        opts,
    )
    expected = _strip_generated(_expected("t17_hierarchical_multisegment_vrl", file))
    assert len(rows) == 951 and len(expected) == 300 and not faults
    assert not _compare_flat(rows, expected)
    strict = DecodeOptions(
        codepage="common", trim="both", segment_field="SEGMENT-ID", segment_map=T17_MAP
    )
    _, strict_faults = _decode_framed(
        "t17_hierarchical_multisegment_vrl",
        next((folder / "data").iterdir()).name,
        next((folder / "copybook").iterdir()).name,
        framing,
        strict,
    )
    assert {f.field.name for f in strict_faults} == {"FLOOR", "ROOM-NUMBER"}
