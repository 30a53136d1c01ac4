"""Packed decimal (COMP-3): two BCD digits a byte, the last nibble the sign.

Digits are combined with int64 multiply-adds over the whole column; validation is a vector
mask. Sign nibbles C, A, E, F are positive, D and B negative; F is the unsigned convention.
"""

from __future__ import annotations

import numpy as np

MAX_INT64_DIGITS = 18


def decode_packed(block: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(records, bytes) uint8 → (unscaled values, bad mask, reason codes).

    Values are int64 up to 18 digits; wider fields (up to 31 digits) give an object array
    of Python ints, exact, built from two int64 halves.
    Reason codes: 0 ok, 1 a digit nibble above 9, 2 an invalid sign nibble,
    3 a negative sign on an unsigned field.
    """
    n, width = block.shape
    high = block >> 4
    low = block & 0x0F
    digits = np.empty((n, 2 * width - 1), dtype=np.int64)
    digits[:, 0::2] = high
    digits[:, 1::2] = low[:, : width - 1]
    bad_digit = (digits > 9).any(axis=1)
    ndigits = digits.shape[1]
    value = np.zeros(n, dtype=np.int64)
    parts: list[np.ndarray] = []
    # 18-digit parts from the right, so no int64 overflows; exact Python ints beyond
    for end in range(ndigits, 0, -MAX_INT64_DIGITS):
        part = np.zeros(n, dtype=np.int64)
        for i in range(max(end - MAX_INT64_DIGITS, 0), end):
            part *= 10
            part += digits[:, i]
        parts.append(part)
    value = parts[0]
    if len(parts) > 1:
        value = value.astype(object)
        for k, part in enumerate(parts[1:], start=1):
            value = value + part.astype(object) * 10 ** (MAX_INT64_DIGITS * k)
    sign = low[:, width - 1]
    negative = (sign == 0x0D) | (sign == 0x0B)
    bad_sign = sign < 0x0A
    value = np.where(negative, -value, value)
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
