"""Compiled (numba) kernel for the common numeric fields: one pass over each record decodes
all packed, plain zoned and binary fields at once, instead of one numpy pass per field per
operation. Semantics and reason codes are those of `packed.py`, `zoned.py` and `binary.py`
(the tests run both paths against the same data); wider or unusual fields stay on numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PACKED, ZONED, BINARY = 0, 1, 2


@njit(cache=True, nogil=True)
def decode_numeric_fields(  # pragma: no cover - compiled
    records: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    kinds: np.ndarray,
    signed: np.ndarray,
    space: np.uint8,
    values: np.ndarray,
    reasons: np.ndarray,
    empty: np.ndarray,
) -> None:
    n = records.shape[0]
    k = offsets.shape[0]
    for i in range(n):
        for f in range(k):
            off = offsets[f]
            size = sizes[f]
            kind = kinds[f]
            first = records[i, off]
            if kind != BINARY and (first == space or first == 0 or first == 0xFF):
                same = True
                for j in range(1, size):
                    if records[i, off + j] != first:
                        same = False
                        break
                if same:
                    empty[f, i] = True
                    values[f, i] = 0
                    reasons[f, i] = 0
                    continue
            v = 0
            code = 0
            if kind == PACKED:
                bad_digit = False
                for j in range(size - 1):
                    b = np.int64(records[i, off + j])
                    hi = b >> 4
                    lo = b & 15
                    if hi > 9 or lo > 9:
                        bad_digit = True
                    v = v * 100 + hi * 10 + lo
                b = np.int64(records[i, off + size - 1])
                hi = b >> 4
                sign = b & 15
                if hi > 9:
                    bad_digit = True
                v = v * 10 + hi
                negative = sign == 13 or sign == 11
                if negative:
                    v = -v
                if bad_digit:
                    code = 1
                elif sign < 10:
                    code = 2
                elif negative and not signed[f]:
                    code = 3
            elif kind == ZONED:
                bad_digit = False
                for j in range(size):
                    b = np.int64(records[i, off + j])
                    d = b & 15
                    if d > 9 or (j < size - 1 and (b >> 4) != 15):
                        bad_digit = True
                    v = v * 10 + d
                zone = np.int64(records[i, off + size - 1]) >> 4
                negative = zone == 13
                if negative:
                    v = -v
                if not (zone == 15 or zone == 12 or negative):
                    code = 2
                elif bad_digit:
                    code = 1
                elif negative and not signed[f]:
                    code = 3
            else:
                for j in range(size):
                    v = (v << 8) | np.int64(records[i, off + j])
                if signed[f] and size < 8 and np.int64(records[i, off]) >= 128:
                    v -= 1 << (8 * size)
            values[f, i] = v
            reasons[f, i] = code


def run(
    records: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    kinds: np.ndarray,
    signed: np.ndarray,
    space: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, reason codes, empty mask), each shaped (fields, records)."""
    k, n = len(offsets), len(records)
    values = np.empty((k, n), dtype=np.int64)
    reasons = np.zeros((k, n), dtype=np.int8)
    empty = np.zeros((k, n), dtype=np.bool_)
    decode_numeric_fields(
        np.ascontiguousarray(records),
        offsets,
        sizes,
        kinds,
        signed,
        np.uint8(space),
        values,
        reasons,
        empty,
    )
    return values, reasons, empty


DATE_FORMATS = {"YYYYMMDD": 0, "CYYMMDD": 1, "YYMMDD": 2, "YYYYDDD": 3}


@njit(cache=True, inline="always")
def _days_from_civil(y: int, m: int, d: int) -> int:  # pragma: no cover - compiled
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= 1 if m <= 2 else 0
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True, nogil=True)
def digits_to_days(  # pragma: no cover - compiled
    values: np.ndarray,
    fmt: int,
    pivot: int,
    days: np.ndarray,
    zero: np.ndarray,
    bad: np.ndarray,
) -> None:
    """Same contract as `dates.digits_to_date`, one pass, no temporaries."""
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    for i in range(values.shape[0]):
        v = values[i]
        days[i] = 0
        if v == 0:
            zero[i] = True
            continue
        if fmt == 3:
            y = v // 1000
            doy = v % 1000
            leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
            if y < 1 or doy < 1 or doy > (366 if leap else 365):
                bad[i] = True
            else:
                days[i] = _days_from_civil(y, 1, 1) + doy - 1
            continue
        if fmt == 0:
            y = v // 10000
        elif fmt == 1:
            if v // 1000000 > 9:
                bad[i] = True
                continue
            y = 1900 + 100 * (v // 1000000) + (v // 10000) % 100
        else:
            yy = (v // 10000) % 100
            y = 2000 + yy if yy < pivot else 1900 + yy
        m = (v // 100) % 100
        d = v % 100
        if y < 1 or m < 1 or m > 12 or d < 1:
            bad[i] = True
            continue
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        limit = 29 if (m == 2 and leap) else month_days[m - 1]
        if d > limit:
            bad[i] = True
            continue
        days[i] = _days_from_civil(y, m, d)


def dates(values: np.ndarray, fmt: str, pivot: int = 50) -> tuple[np.ndarray, ...]:
    """(day numbers int32, zero mask, bad mask) for int64 digit values."""
    n = len(values)
    days = np.empty(n, dtype=np.int64)
    zero = np.zeros(n, dtype=np.bool_)
    bad = np.zeros(n, dtype=np.bool_)
    digits_to_days(
        np.ascontiguousarray(values, dtype=np.int64), DATE_FORMATS[fmt], pivot, days, zero, bad
    )
    return days.astype(np.int32), zero, bad


@njit(cache=True, inline="always")
def _encode_trimmed(  # pragma: no cover - compiled
    records: np.ndarray,
    i: int,
    offset: int,
    width: int,
    utf8: np.ndarray,
    utf8_len: np.ndarray,
    is_space: np.ndarray,
    trim_left: bool,
    trim_right: bool,
    data: np.ndarray,
    pos: int,
) -> int:
    """Record i's field, trimmed, as UTF-8 into data[pos:]; returns the new end."""
    start = offset
    end = offset + width
    if trim_right:
        while end > start and is_space[records[i, end - 1]]:
            end -= 1
    if trim_left:
        while start < end and is_space[records[i, start]]:
            start += 1
    for j in range(start, end):
        b = records[i, j]
        size = utf8_len[b]
        data[pos] = utf8[b, 0]
        if size > 1:
            for k in range(1, size):
                data[pos + k] = utf8[b, k]
        pos += size
    return pos


@njit(cache=True, nogil=True)
def text_to_utf8(  # pragma: no cover - compiled
    records: np.ndarray,
    offset: int,
    width: int,
    utf8: np.ndarray,
    utf8_len: np.ndarray,
    is_space: np.ndarray,
    trim_left: bool,
    trim_right: bool,
    data: np.ndarray,
    offsets: np.ndarray,
) -> int:
    """A text column → UTF-8 bytes and offsets, trimmed, in one pass (no temporaries)."""
    pos = 0
    offsets[0] = 0
    for i in range(records.shape[0]):
        pos = _encode_trimmed(
            records, i, offset, width, utf8, utf8_len, is_space, trim_left, trim_right, data, pos
        )
        offsets[i + 1] = pos
    return pos


@njit(cache=True, nogil=True)
def text_to_views(  # pragma: no cover - compiled
    records: np.ndarray,
    offset: int,
    width: int,
    utf8: np.ndarray,
    utf8_len: np.ndarray,
    is_space: np.ndarray,
    trim_left: bool,
    trim_right: bool,
    views: np.ndarray,
    data: np.ndarray,
) -> int:
    """A text column → Arrow string views (16 bytes each: length, then the value inline
    when it has at most 12 bytes, else a 4-byte prefix, buffer 0 and its offset in `data`).

    Short codes, numbers-as-text and names up to 12 bytes never touch a data buffer, and
    polars takes the views as they are."""
    pos = 0
    for i in range(records.shape[0]):
        begin = pos
        pos = _encode_trimmed(
            records, i, offset, width, utf8, utf8_len, is_space, trim_left, trim_right, data, pos
        )
        length = pos - begin
        views[i, 0] = length & 0xFF
        views[i, 1] = (length >> 8) & 0xFF
        views[i, 2] = (length >> 16) & 0xFF
        views[i, 3] = (length >> 24) & 0xFF
        if length <= 12:
            for k in range(12):
                views[i, 4 + k] = data[begin + k] if k < length else 0
            pos = begin  # inline: the bytes need no place in the data buffer
        else:
            for k in range(4):
                views[i, 4 + k] = data[begin + k]
            for k in range(4):
                views[i, 8 + k] = 0  # buffer index 0
            views[i, 12] = begin & 0xFF
            views[i, 13] = (begin >> 8) & 0xFF
            views[i, 14] = (begin >> 16) & 0xFF
            views[i, 15] = (begin >> 24) & 0xFF
    return pos
