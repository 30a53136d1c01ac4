"""Packed decimal (COMP-3): two BCD digits a byte, the last nibble the sign.

Digits are combined with int64 multiply-adds over the whole column; validation is a vector
mask. Sign nibbles C, A, E, F are positive, D and B negative; F is the unsigned convention.
"""

from __future__ import annotations

import numpy as np

MAX_INT64_DIGITS = 18


def decode_packed(block: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(records, bytes) uint8 → (int64 unscaled values, bad mask, reason codes).

    Reason codes: 0 ok, 1 a digit nibble above 9, 2 an invalid sign nibble,
    3 a negative sign on an unsigned field.
    """
    n, width = block.shape
    if 2 * width - 1 > MAX_INT64_DIGITS:
        raise ValueError(f"packed fields of more than {MAX_INT64_DIGITS} digits: see issue 3")
    high = block >> 4
    low = block & 0x0F
    value = np.zeros(n, dtype=np.int64)
    bad_digit = np.zeros(n, dtype=bool)
    for i in range(width):
        value *= 10
        value += high[:, i]
        bad_digit |= high[:, i] > 9
        if i < width - 1:
            value *= 10
            value += low[:, i]
            bad_digit |= low[:, i] > 9
    sign = low[:, width - 1]
    negative = (sign == 0x0D) | (sign == 0x0B)
    bad_sign = sign < 0x0A
    np.negative(value, out=value, where=negative)
    reason = np.zeros(n, dtype=np.int8)
    reason[bad_digit] = 1
    reason[(reason == 0) & bad_sign] = 2
    if not signed:
        reason[(reason == 0) & negative] = 3
    return value, reason != 0, reason


PACKED_REASONS = {
    1: "invalid packed digit nibble (above 9)",
    2: "invalid packed sign nibble",
    3: "negative sign in an unsigned packed field",
}
