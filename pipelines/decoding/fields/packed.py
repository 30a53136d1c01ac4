"""Packed decimal (COMP-3): two BCD digits a byte, the last nibble the sign.

Digits are combined with int64 multiply-adds over the whole column; validation is a vector
mask. Sign nibbles C, A, E, F are positive, D and B negative; F is the unsigned convention.
"""

from __future__ import annotations

import numpy as np

MAX_INT64_DIGITS = 18


# byte → its two BCD digits as a number 0..99, and whether both nibbles are digits
_PAIR_VALUE = np.array([(b >> 4) * 10 + (b & 0x0F) for b in range(256)], dtype=np.int64)
_PAIR_OK = np.array([(b >> 4) <= 9 and (b & 0x0F) <= 9 for b in range(256)])


def decode_packed(block: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(records, bytes) uint8 → (unscaled values, bad mask, reason codes).

    Values are int64 up to 18 digits (a lookup of each byte's two digits, then one
    multiply-add per byte); wider fields give an object array of exact Python ints.
    Reason codes: 0 ok, 1 a digit nibble above 9, 2 an invalid sign nibble,
    3 a negative sign on an unsigned field.
    """
    n, width = block.shape
    last = block[:, width - 1]
    sign = last & 0x0F
    bad_digit = (last >> 4) > 9
    for i in range(width - 1):
        bad_digit |= ~_PAIR_OK[block[:, i]]
    if 2 * width - 1 <= MAX_INT64_DIGITS:
        value = np.zeros(n, dtype=np.int64)
        for i in range(width - 1):
            value *= 100
            value += _PAIR_VALUE[block[:, i]]
        value *= 10
        value += last >> 4
    else:
        value = _wide_value(block)
    negative = (sign == 0x0D) | (sign == 0x0B)
    bad_sign = sign < 0x0A
    value = np.where(negative, -value, value)
    reason = np.zeros(n, dtype=np.int8)
    reason[bad_digit] = 1
    reason[(reason == 0) & bad_sign] = 2
    if not signed:
        reason[(reason == 0) & negative] = 3
    return value, reason != 0, reason


def _wide_value(block: np.ndarray) -> np.ndarray:
    """More than 18 digits: 18-digit int64 parts from the right, joined as Python ints."""
    n, width = block.shape
    digits = np.empty((n, 2 * width - 1), dtype=np.int64)
    digits[:, 0::2] = block >> 4
    digits[:, 1::2] = block[:, : width - 1] & 0x0F
    ndigits = digits.shape[1]
    parts: list[np.ndarray] = []
    for end in range(ndigits, 0, -MAX_INT64_DIGITS):
        part = np.zeros(n, dtype=np.int64)
        for i in range(max(end - MAX_INT64_DIGITS, 0), end):
            part *= 10
            part += digits[:, i]
        parts.append(part)
    value = parts[0].astype(object)
    for k, part in enumerate(parts[1:], start=1):
        value = value + part.astype(object) * 10 ** (MAX_INT64_DIGITS * k)
    return value


PACKED_REASONS = {
    1: "invalid packed digit nibble (above 9)",
    2: "invalid packed sign nibble",
    3: "negative sign in an unsigned packed field",
}
