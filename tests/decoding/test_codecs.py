"""Property tests: every legacy field encoding round-trips exactly through the decoders."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.decoding.fields.arrow_columns import decimal_array
from pipelines.decoding.fields.binary import decode_binary
from pipelines.decoding.fields.dates import digits_to_date
from pipelines.decoding.fields.packed import decode_packed
from pipelines.decoding.fields.text import decode_text
from pipelines.decoding.fields.zoned import decode_zoned
from pipelines.embedded.demo import encoding


@st.composite
def packed_cases(draw: st.DrawFn) -> tuple[int, bool, list[int]]:
    nbytes = draw(st.integers(1, 12))
    signed = draw(st.booleans())
    limit = 10 ** (2 * nbytes - 1) - 1
    low = -limit if signed else 0
    values = draw(st.lists(st.integers(low, limit), min_size=1, max_size=50))
    return nbytes, signed, values


def _encode_packed_python(value: int, nbytes: int, signed: bool) -> bytes:
    """A second, independent encoder (string based) to check the vectorised one."""
    digits = str(abs(value)).rjust(2 * nbytes - 1, "0")
    sign = ("D" if value < 0 else "C") if signed else "F"
    return bytes.fromhex(digits + sign)


@given(packed_cases())
@settings(max_examples=200, deadline=None)
def test_packed_round_trip(case: tuple[int, bool, list[int]]) -> None:
    nbytes, signed, values = case
    raw = b"".join(_encode_packed_python(v, nbytes, signed) for v in values)
    block = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), nbytes)
    decoded, bad, _ = decode_packed(block, signed)
    assert not bad.any()
    assert [int(v) for v in decoded] == values
    if 2 * nbytes - 1 <= 18:
        assert encoding.packed(np.array(values), nbytes, signed).tobytes() == raw


@given(st.lists(st.integers(-(10**17), 10**17 - 1), min_size=1, max_size=40), st.integers(0, 6))
def test_decimal_array_is_exact(values: list[int], scale: int) -> None:
    arr = decimal_array(np.array(values, dtype=np.int64), None, 18, scale)
    assert arr.to_pylist() == [Decimal(v).scaleb(-scale) for v in values]


def test_packed_faults_are_reported_not_raised() -> None:
    block = np.array([[0x12, 0x3C], [0x1A, 0x3C], [0x12, 0x37], [0x12, 0x3D]], dtype=np.uint8)
    values, bad, reason = decode_packed(block, signed=False)
    assert values[0] == 123
    assert bad.tolist() == [False, True, True, True]
    assert reason.tolist() == [0, 1, 2, 3]


@given(st.lists(st.integers(-(10**9) + 1, 10**9 - 1), min_size=1, max_size=40))
def test_zoned_signed_round_trip(values: list[int]) -> None:
    block = encoding.zoned(np.array(values), 9, signed=True)
    decoded, bad, _ = decode_zoned(block, signed=True)
    assert not bad.any()
    assert decoded.tolist() == values


def test_zoned_rejects_letters_and_unsigned_negatives() -> None:
    good = encoding.zoned(np.array([123]), 3)
    letter = good.copy()
    letter[0, 0] = 0xC1
    negative = encoding.zoned(np.array([-5]), 3, signed=True)
    _, bad, reason = decode_zoned(np.vstack([good, letter, negative]), signed=False)
    assert bad.tolist() == [False, True, True]
    assert reason.tolist() == [0, 1, 3]


@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=40))
def test_binary_round_trip(values: list[int]) -> None:
    block = encoding.binary(np.array(values), 4)
    assert decode_binary(block, signed=True).tolist() == values


text_alphabet = st.sampled_from(list("abcxyzABCXYZ0189 äöüÄÖÜß§@€-./&"))


@pytest.mark.parametrize("codepage", ["cp273", "cp1141", "cp037", "cp500", "cp1140", "cp1148"])
@given(values=st.lists(st.text(text_alphabet, max_size=12), min_size=1, max_size=30))
@settings(max_examples=40, deadline=None)
def test_text_round_trip(codepage: str, values: list[str]) -> None:
    try:
        block = encoding.text(values, 12, codepage)
    except UnicodeEncodeError:
        return  # e.g. € does not exist in cp273 / cp037
    assert decode_text(block, codepage).to_pylist() == [v.rstrip(" ") for v in values]


@given(st.lists(st.dates(date(1900, 1, 1), date(2899, 12, 31)), min_size=1, max_size=30))
def test_dates_cyymmdd_and_yyyymmdd(days: list[date]) -> None:
    ymd = np.array([d.year * 10000 + d.month * 100 + d.day for d in days])
    cyy = ymd - 19_000_000
    epoch = date(1970, 1, 1)
    want = [(d - epoch).days for d in days]
    for fmt, values in (("YYYYMMDD", ymd), ("CYYMMDD", cyy)):
        got, empty, bad = digits_to_date(values, fmt)
        assert not bad.any() and not empty.any()
        assert got.tolist() == want


def test_impossible_dates_are_bad_and_zero_is_empty() -> None:
    got, empty, bad = digits_to_date(np.array([20240230, 20241301, 0, 20240229]), "YYYYMMDD")
    assert bad.tolist() == [True, True, False, False]
    assert empty.tolist() == [False, False, True, False]
    assert got[3] == (date(2024, 2, 29) - date(1970, 1, 1)).days


def test_julian_dates() -> None:
    got, _, bad = digits_to_date(np.array([2024060, 2023366]), "YYYYDDD")
    assert bad.tolist() == [False, True]
    assert date(1970, 1, 1) + timedelta(days=int(got[0])) == date(2024, 2, 29)


def test_text_trimming_policies() -> None:
    block = encoding.text(["  ab  "], 6, "cp273")
    assert decode_text(block, "cp273", "right").to_pylist() == ["  ab"]
    assert decode_text(block, "cp273", "left").to_pylist() == ["ab  "]
    assert decode_text(block, "cp273", "both").to_pylist() == ["ab"]
    assert decode_text(block, "cp273", "none").to_pylist() == ["  ab  "]
    assert isinstance(decode_text(block, "cp273"), pa.StringArray)


def test_ibm_hex_float_known_values() -> None:
    from pipelines.decoding.fields.floats import decode_float

    single = np.frombuffer(bytes.fromhex("41100000C276A00000000000"), dtype=np.uint8)
    assert decode_float(single.reshape(3, 4), "ibm").tolist() == [1.0, -118.625, 0.0]
    double = np.frombuffer(bytes.fromhex("4110000000000000"), dtype=np.uint8).reshape(1, 8)
    assert decode_float(double, "ibm").tolist() == [1.0]
    ieee = np.frombuffer(np.array([1.5, -2.25], dtype=">f8").tobytes(), dtype=np.uint8)
    assert decode_float(ieee.reshape(2, 8), "ieee").tolist() == [1.5, -2.25]


@given(st.lists(st.integers(-(10**36) + 1, 10**36 - 1), min_size=1, max_size=20))
def test_wide_zoned_and_display_numbers_are_exact(values: list[int]) -> None:
    from pipelines.copybook.model import Field, Picture, Usage
    from pipelines.decoding.fields.display_numbers import decode_display_number

    pic = Picture(text="S9(37)", category="numeric", digits=37, signed=True, length=37)
    f = Field(name="N", offset=0, size=37, picture=pic, usage=Usage.DISPLAY, line=1)
    block = np.vstack([encoding.zoned(np.array([0]), 37, signed=True)] * len(values))
    for i, v in enumerate(values):  # encode via strings: numpy int64 cannot hold them
        digits = str(abs(v)).rjust(37, "0").encode("cp037")
        row = bytearray(digits)
        row[-1] = (0xD0 if v < 0 else 0xC0) | (row[-1] & 0x0F)
        block[i] = np.frombuffer(bytes(row), dtype=np.uint8)
    value, _, bad, _ = decode_display_number(block, f, ebcdic=True)
    assert not bad.any()
    assert [int(x) for x in value] == values


@given(
    st.lists(st.integers(0, 99_999_999), min_size=1, max_size=50),
    st.sampled_from(["YYYYMMDD", "CYYMMDD", "YYMMDD", "YYYYDDD"]),
)
def test_compiled_dates_agree_with_numpy_dates(values: list[int], fmt: str) -> None:
    from pipelines.decoding.fields import kernels

    arr = np.array(values, dtype=np.int64)
    want_days, want_zero, want_bad = digits_to_date(arr, fmt)
    days, zero, bad = kernels.dates(arr, fmt)
    assert zero.tolist() == want_zero.tolist()
    assert bad.tolist() == want_bad.tolist()
    ok = ~(bad | zero)
    assert days[ok].tolist() == want_days[ok].tolist()


@pytest.mark.parametrize("codepage", ["cp273", "cp1141", "cp037", "common", "ascii"])
@pytest.mark.parametrize("trim", ["right", "left", "both", "none"])
@given(raw=st.binary(min_size=60, max_size=60))
@settings(max_examples=30)
def test_compiled_text_equals_codec_text(codepage: str, trim: str, raw: bytes) -> None:
    """Any bytes at all (controls, spaces, letters): both text paths give the same strings."""
    from pipelines.decoding.fields.text import decode_text_compiled

    block = np.frombuffer(raw, dtype=np.uint8).reshape(6, 10)
    for controls in ("space", "keep"):
        want = decode_text(block, codepage, trim, controls).to_pylist()
        got = decode_text_compiled(block, 0, 10, codepage, trim, controls).to_pylist()
        assert got == want


@given(
    st.integers(2, 16),
    st.lists(st.integers(0, 9), min_size=40, max_size=40),
    st.sampled_from([0x0C, 0x0D, 0x0F]),
)
def test_packed_pad_nibble_beyond_the_pic_is_a_fault_not_a_crash(
    digits_pic: int, nibbles: list[int], sign: int
) -> None:
    """PIC S9(n) COMP-3 with n even has a high-order pad nibble; a non-zero pad (damage)
    makes the value null with a reason instead of an out-of-precision decimal."""
    from pipelines.copybook import parse_copybook
    from pipelines.decoding.records.decode import DecodeOptions, decode_chunk, fault_entries

    digits_pic *= 2  # even digit counts only
    text = f"       01  R.\n           05  AMT  PIC S9({digits_pic - 2})V99 COMP-3.\n"
    layout = parse_copybook(text)["R"]
    width = layout.size
    stored = nibbles[: 2 * width - 1]
    raw = bytes(
        (stored[2 * i] << 4) | (stored[2 * i + 1] if i < width - 1 else sign) for i in range(width)
    )
    table, faults = decode_chunk(
        np.frombuffer(raw, dtype=np.uint8).reshape(1, width), layout, DecodeOptions("cp037")
    )
    value = table.column("amt")[0].as_py()
    if stored[0] == 0:
        want = int("".join(map(str, stored))) * (-1 if sign == 0x0D else 1)
        assert value == Decimal(f"{want}E-2")  # exact, whatever the context precision
        assert not faults
    else:
        assert value is None
        (entry,) = fault_entries(faults, np.frombuffer(raw, dtype=np.uint8).reshape(1, width))[0]
        assert entry["reason"] == f"packed value exceeds PIC S9({digits_pic - 2})V99"


@given(
    st.binary(min_size=0, max_size=40 * 30),
    st.integers(1, 40),
    st.sampled_from(["cp037", "cp273", "cp1141", "ascii"]),
    st.sampled_from(["right", "left", "both", "none"]),
    st.sampled_from(["space", "keep"]),
)
def test_text_views_hold_the_same_strings(
    data: bytes, width: int, codepage: str, trim: str, controls: str
) -> None:
    from pipelines.decoding.fields.text import decode_text_compiled, decode_text_views

    n = len(data) // width
    records = np.frombuffer(data[: n * width], dtype=np.uint8).reshape(n, width)
    views = decode_text_views(records, 0, width, codepage, trim, controls)
    views.validate(full=True)
    assert views.type == pa.string_view()
    plain = decode_text_compiled(records, 0, width, codepage, trim, controls)
    assert views.to_pylist() == plain.to_pylist()


_KERNEL_COPYBOOK = """       01  R.
           05  P-ODD     PIC S9(7)V99 COMP-3.
           05  P-EVEN    PIC S9(6) COMP-3.
           05  P-UNSIGN  PIC 9(5) COMP-3.
           05  Z-SIGNED  PIC S9(5)V9.
           05  Z-PLAIN   PIC 9(4).
           05  B-HALF    PIC S9(4) COMP.
           05  B-WORD    PIC 9(9) BINARY.
           05  B-LONG    PIC S9(18) COMP.
           05  B-NATIVE  PIC S9(4) COMP-5.
           05  D-YMD     PIC 9(8).
           05  D-CYMD    PIC S9(7) COMP-3.
"""


def _numeric_record(draw: st.DrawFn, layout: object) -> bytes:
    """A record mixing valid encodings, no-value fillers and arbitrary damage per field."""
    out = bytearray()
    for f in layout.fields:  # type: ignore[attr-defined]
        choice = draw(st.sampled_from(["value", "filler", "noise"]))
        if choice == "filler":
            out += bytes([draw(st.sampled_from([0x40, 0x00, 0xFF]))]) * f.size
        elif choice == "noise":
            out += draw(st.binary(min_size=f.size, max_size=f.size))
        elif f.usage.name == "PACKED":
            digits = draw(st.integers(0, 10 ** (2 * f.size - 1) - 1))
            sign = draw(st.sampled_from([0x0C, 0x0D, 0x0F]))
            nibbles = f"{digits:0{2 * f.size - 1}d}"
            out += bytes.fromhex(nibbles + "CDF"[[0x0C, 0x0D, 0x0F].index(sign)])
        elif f.usage.name == "DISPLAY":
            text = f"{draw(st.integers(0, 10**f.size - 1)):0{f.size}d}"
            raw = bytearray(0xF0 + int(c) for c in text)
            raw[-1] = draw(st.sampled_from([0xC0, 0xD0, 0xF0])) | (raw[-1] & 0x0F)
            out += raw
        else:
            out += draw(st.binary(min_size=f.size, max_size=f.size))
    return bytes(out)


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_compiled_numbers_equal_the_numpy_path(data: st.DataObject) -> None:
    """The compiled kernel (values straight into Arrow buffers, states, counts) and the numpy
    decoders give the same values, nulls and faults, reason by reason, on any bytes."""
    from unittest import mock

    from pipelines.copybook import parse_copybook
    from pipelines.decoding.records import decode as rec
    from pipelines.decoding.records import selector

    layout = parse_copybook(_KERNEL_COPYBOOK)["R"]
    rows = data.draw(st.lists(st.builds(lambda: None), min_size=1, max_size=12))
    raw = b"".join(data.draw(st.composite(_numeric_record)(layout)) for _ in rows)
    matrix = np.frombuffer(raw, dtype=np.uint8).reshape(len(rows), layout.size)
    opts = rec.DecodeOptions("cp037", dates={"d_ymd": "YYYYMMDD", "d_cymd": "CYYMMDD"})
    compiled, compiled_faults = rec.decode_chunk(matrix, layout, opts)
    assert rec._compiled_numbers(matrix, layout, opts)  # the kernel did take the fields
    with mock.patch.object(selector, "_kernel", return_value=None):
        plain, plain_faults = rec.decode_chunk(matrix, layout, opts)
    assert compiled.schema == plain.schema
    assert compiled.to_pylist() == plain.to_pylist()
    assert rec.fault_entries(compiled_faults, matrix) == rec.fault_entries(plain_faults, matrix)


@given(
    st.binary(min_size=0, max_size=64 * 20),
    st.lists(
        st.tuples(
            st.integers(0, 63),
            st.integers(1, 30),
            st.sampled_from(["cp037", "cp273", "cp1141", "ascii"]),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["right", "left", "both", "none"]),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_text_columns_in_one_pass_equal_each_column_alone(
    data: bytes, fields: list[tuple[int, int, str]], trim: str, views: bool
) -> None:
    """Several text fields (overlapping, each with its own code page) decoded together in
    one pass hold exactly what the codec path gives for each field alone."""
    from pipelines.decoding.fields.text import decode_text_columns

    n = len(data) // 64
    records = np.frombuffer(data[: n * 64], dtype=np.uint8).reshape(n, 64)
    fields = [(offset, min(width, 64 - offset), page) for offset, width, page in fields]
    got = decode_text_columns(records, fields, trim, "space", views)
    for (offset, width, page), arr in zip(fields, got, strict=True):
        arr.validate(full=True)
        assert arr.type == (pa.string_view() if views else pa.string())
        want = decode_text(records[:, offset : offset + width], page, trim, "space")
        assert arr.to_pylist() == want.to_pylist()
