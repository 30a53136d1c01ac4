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
