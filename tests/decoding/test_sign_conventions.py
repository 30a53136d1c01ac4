"""Property tests for every sign convention and DISPLAY form the decoder accepts, each value
written by an encoder in this file (independent of pipelines.embedded.demo.encoding)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pipelines.copybook import parse_copybook
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk

values = st.lists(st.integers(-99_999, 99_999), min_size=1, max_size=30)


def _decode(copybook: str, rows: list[bytes], **opts: object) -> list[object]:
    layout = next(iter(parse_copybook(copybook, free_format=True).values()))
    matrix = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), layout.size)
    table, faults = decode_chunk(matrix, layout, DecodeOptions(**opts))
    assert not faults, [(f.field.name, f.reasons[f.bad][:3]) for f in faults]
    return table.column(0).to_pylist()


def _ebcdic_digits(v: int, width: int) -> bytearray:
    return bytearray(0xF0 | int(c) for c in str(abs(v)).rjust(width, "0"))


@given(values)
def test_sign_leading_overpunch(vals: list[int]) -> None:
    rows = []
    for v in vals:
        b = _ebcdic_digits(v, 5)
        b[0] = (0xD0 if v < 0 else 0xC0) | (b[0] & 0x0F)
        rows.append(bytes(b))
    assert _decode("01 R.\n 05 N PIC S9(5) SIGN LEADING.", rows, codepage="cp037") == vals


@given(values, st.booleans())
def test_sign_separate_leading_and_trailing(vals: list[int], leading: bool) -> None:
    rows = []
    for v in vals:
        sign = b"\x60" if v < 0 else b"\x4e"  # EBCDIC '-' and '+'
        digits = bytes(_ebcdic_digits(v, 5))
        rows.append(sign + digits if leading else digits + sign)
    where = "LEADING" if leading else "TRAILING"
    cb = f"01 R.\n 05 N PIC S9(5) SIGN IS {where} SEPARATE CHARACTER."
    assert _decode(cb, rows, codepage="cp037") == vals


@given(values)
def test_ascii_ibm_overpunch_letters(vals: list[int]) -> None:
    pos, neg = "{ABCDEFGHI", "}JKLMNOPQR"
    rows = []
    for v in vals:
        text = str(abs(v)).rjust(5, "0")
        last = (neg if v < 0 else pos)[int(text[-1])]
        rows.append((text[:-1] + last).encode("ascii"))
    assert _decode("01 R.\n 05 N PIC S9(5).", rows, codepage="ascii") == vals


@given(values)
def test_gnucobol_ascii_negative_digits(vals: list[int]) -> None:
    rows = []
    for v in vals:
        text = str(abs(v)).rjust(5, "0")
        last = chr(ord("p") + int(text[-1])) if v < 0 else text[-1]
        rows.append((text[:-1] + last).encode("ascii"))
    assert _decode("01 R.\n 05 N PIC S9(5).", rows, codepage="ascii", dialect="gnucobol") == vals


@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=30))
def test_comp5_native_little_endian_under_gnucobol(vals: list[int]) -> None:
    rows = [v.to_bytes(4, "little", signed=True) for v in vals]
    assert _decode("01 R.\n 05 N PIC S9(9) COMP-5.", rows, dialect="gnucobol") == vals
    big = [v.to_bytes(4, "big", signed=True) for v in vals]
    assert _decode("01 R.\n 05 N PIC S9(9) COMP-5.", big) == vals


@given(st.lists(st.integers(-9_999_999, 9_999_999), min_size=1, max_size=30))
def test_edited_pictures(vals: list[int]) -> None:
    # PIC -9(5).99 : a leading sign position, an explicit point, two decimals
    rows = []
    for v in vals:
        text = str(abs(v)).rjust(7, "0")
        rows.append((("-" if v < 0 else " ") + text[:5] + "." + text[5:]).encode("cp037"))
    got = _decode("01 R.\n 05 N PIC -9(5).99.", rows, codepage="cp037")
    assert got == [Decimal(v).scaleb(-2) for v in vals]


@given(st.lists(st.integers(0, 999), min_size=1, max_size=30))
def test_p_scaling_both_sides(vals: list[int]) -> None:
    packed = [bytes.fromhex(str(v).rjust(3, "0") + "F") for v in vals]
    assert _decode("01 R.\n 05 N PIC 9(3)PPP COMP-3.", packed) == [v * 1000 for v in vals]
    got = _decode("01 R.\n 05 N PIC PPP9(3) COMP-3.", packed)
    assert got == [Decimal(v).scaleb(-6) for v in vals]


@given(
    st.lists(st.text(st.sampled_from(list("abcÄÖÜß€漢字 ")), max_size=4), min_size=1, max_size=20)
)
def test_national_pic_n_is_utf16(vals: list[str]) -> None:
    rows = [v.ljust(4).encode("utf-16-be") for v in vals]
    assert _decode("01 R.\n 05 N PIC N(4).", rows) == [v.rstrip(" ") for v in vals]
