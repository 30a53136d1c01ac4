"""Build Arrow arrays straight from numpy buffers (no per-value Python objects)."""

from __future__ import annotations

from decimal import Context, Decimal

import numpy as np
import pyarrow as pa


def validity_buffer(valid: np.ndarray | None) -> pa.Buffer | None:
    """Arrow's validity bitmap of a boolean mask (None: every value is valid)."""
    if valid is None or valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def decimal_array(
    unscaled: np.ndarray, valid: np.ndarray | None, precision: int, scale: int
) -> pa.Array:
    """int64 unscaled values → decimal128(precision, scale), exact (16-byte two's complement).

    Object arrays (Python ints, from fields wider than 18 digits) go through Decimal.
    """
    n = len(unscaled)
    if unscaled.dtype == object:
        mask = None if valid is None else ~valid
        exact = Context(prec=40)  # the default context (28 digits) would round 37-digit values
        values = [Decimal(int(v)).scaleb(-scale, context=exact) for v in unscaled]
        return pa.array(values, type=pa.decimal128(max(precision, 1), scale), mask=mask)
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63  # sign extension into the high word
    return decimal_words_array(words, valid, precision, scale)


def decimal_words_array(
    words: np.ndarray, valid: np.ndarray | None, precision: int, scale: int
) -> pa.Array:
    """(n, 2) int64 little-endian words (low, high) → decimal128(precision, scale)."""
    return pa.Array.from_buffers(
        pa.decimal128(max(precision, 1), scale),
        len(words),
        [validity_buffer(valid), pa.py_buffer(words)],
    )


def int_array(values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    return pa.Array.from_buffers(
        pa.int64(),
        len(values),
        [validity_buffer(valid), pa.py_buffer(values.astype(np.int64, copy=False))],
    )


def date_array(days: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    return pa.Array.from_buffers(
        pa.date32(),
        len(days),
        [validity_buffer(valid), pa.py_buffer(days.astype(np.int32, copy=False))],
    )
