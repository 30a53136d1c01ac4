"""Compiled (numba) kernel for the common numeric fields: one pass over each record decodes
all packed, plain zoned and binary fields at once, straight into their final Arrow value
buffers (int64, date32 day numbers or decimal128 words), with a state per value (valid,
no value, or the fault's code) and per-field counts, so a chunk without faults costs no
further pass at all. Semantics and reason codes are those of `packed.py`, `zoned.py`,
`binary.py` and `dates.py` (the tests run both paths against the same data); wider or
unusual fields stay on numpy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from pipelines.decoding.execution.slot_arena import output_array

PACKED, ZONED, BINARY = 0, 1, 2  # how a field's bytes are read
INT, DATE, DECIMAL = 0, 1, 2  # what its value becomes
NO_VALUE = -1  # state of a value that is null by the no-value rule (not a fault)
BEYOND_PIC = 8  # state: a value with more digits than the PIC allows
BAD_DATE = 9  # state: digits that are not a date of the field's format


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


@njit(cache=True, inline="always")
def _to_days(v: int, fmt: int, pivot: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """(day number, status): status 0 a date, 1 zero digits (no date), 2 not a date."""
    if v == 0:
        return 0, 1
    if fmt == 3:
        y = v // 1000
        doy = v % 1000
        leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
        if y < 1 or doy < 1 or doy > (366 if leap else 365):
            return 0, 2
        return _days_from_civil(y, 1, 1) + doy - 1, 0
    if fmt == 0:
        y = v // 10000
    elif fmt == 1:
        if v // 1000000 > 9:
            return 0, 2
        y = 1900 + 100 * (v // 1000000) + (v // 10000) % 100
    else:
        yy = (v // 10000) % 100
        y = 2000 + yy if yy < pivot else 1900 + yy
    m = (v // 100) % 100
    d = v % 100
    if y < 1 or m < 1 or m > 12 or d < 1:
        return 0, 2
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    if m == 2:
        limit = 29 if leap else 28
    elif m in (4, 6, 9, 11):
        limit = 30
    else:
        limit = 31
    if d > limit:
        return 0, 2
    return _days_from_civil(y, m, d), 0


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
    for i in range(values.shape[0]):
        days[i], status = _to_days(values[i], fmt, pivot)
        zero[i] = status == 1
        bad[i] = status == 2


@njit(cache=True, nogil=True)
def decode_numbers(  # pragma: no cover - compiled
    records: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    kinds: np.ndarray,
    signed: np.ndarray,
    space: np.uint8,
    limits: np.ndarray,
    date_formats: np.ndarray,
    pivot: int,
    out_kinds: np.ndarray,
    rows: np.ndarray,
    ints: np.ndarray,
    days: np.ndarray,
    decimals: np.ndarray,
    state: np.ndarray,
    nulls: np.ndarray,
    faults: np.ndarray,
) -> None:
    """Field f of record i → `state[f, i]` (0 valid, NO_VALUE, or a fault code) and, in
    row `rows[f]` of the output for its kind (`ints`, `days` or `decimals`), its value
    (0 where it is null). `limits[f]` > 0: |value| must stay below it (BEYOND_PIC);
    `date_formats[f]` ≥ 0: the digits are a date of that format."""
    n = records.shape[0]
    k = offsets.shape[0]
    for f in range(k):
        nulls[f] = 0
        faults[f] = 0
    for i in range(n):
        for f in range(k):
            off = offsets[f]
            size = sizes[f]
            kind = kinds[f]
            first = records[i, off]
            v = 0
            code = 0
            if kind != BINARY and (first == space or first == 0 or first == 0xFF):
                same = True
                for j in range(1, size):
                    if records[i, off + j] != first:
                        same = False
                        break
                if same:
                    code = NO_VALUE
            if code == 0 and kind == PACKED:
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
            elif code == 0 and kind == ZONED:
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
            elif code == 0:
                for j in range(size):
                    v = (v << 8) | np.int64(records[i, off + j])
                if signed[f] and size < 8 and np.int64(records[i, off]) >= 128:
                    v -= 1 << (8 * size)
            if code == 0 and limits[f] > 0 and (v >= limits[f] or v <= -limits[f]):
                code = BEYOND_PIC
            out = out_kinds[f]
            if code == 0 and out == DATE:
                v, status = _to_days(v, date_formats[f], pivot)
                if status == 1:
                    code = NO_VALUE  # zero digits: no date
                elif status == 2:
                    code = BAD_DATE
            if code != 0:
                v = 0
                if code == NO_VALUE:
                    nulls[f] += 1
                else:
                    faults[f] += 1
            state[f, i] = code
            row = rows[f]
            if out == INT:
                ints[row, i] = v
            elif out == DATE:
                days[row, i] = v
            else:
                decimals[row, i, 0] = v
                decimals[row, i, 1] = v >> 63  # sign extension into the high word


def run(
    records: np.ndarray,
    offsets: np.ndarray,
    sizes: np.ndarray,
    kinds: np.ndarray,
    signed: np.ndarray,
    space: int,
    limits: np.ndarray,
    date_formats: np.ndarray,
    out_kinds: np.ndarray,
    pivot: int = 50,
) -> tuple[np.ndarray, ...]:
    """(ints, days, decimals, state, nulls, faults, rows): field f's values are row
    `rows[f]` of the array for its output kind, its states row f of `state`, and
    `nulls[f]` / `faults[f]` count its null values and its faults."""
    k, n = len(offsets), len(records)
    rows = np.zeros(k, dtype=np.int64)
    for kind in (INT, DATE, DECIMAL):
        mine = out_kinds == kind
        rows[mine] = np.arange(int(mine.sum()))
    ints = output_array((int((out_kinds == INT).sum()), n), np.int64)
    days = output_array((int((out_kinds == DATE).sum()), n), np.int32)
    decimals = output_array((int((out_kinds == DECIMAL).sum()), n, 2), np.int64)
    state = np.empty((k, n), dtype=np.int8)
    nulls = np.zeros(k, dtype=np.int64)
    faults = np.zeros(k, dtype=np.int64)
    decode_numbers(
        np.ascontiguousarray(records),
        offsets,
        sizes,
        kinds,
        signed,
        np.uint8(space),
        limits,
        date_formats,
        pivot,
        out_kinds,
        rows,
        ints,
        days,
        decimals,
        state,
        nulls,
        faults,
    )
    return ints, days, decimals, state, nulls, faults, rows


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
