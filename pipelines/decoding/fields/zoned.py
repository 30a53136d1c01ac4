"""Zoned decimal (DISPLAY numeric), EBCDIC: one digit a byte in the low nibble, zone F.

The last byte's zone carries the sign (IBM overpunch): C positive, D negative, F unsigned.
SIGN SEPARATE puts '+'/'-' in its own leading or trailing byte instead.
"""

from __future__ import annotations

import numpy as np

ZONED_REASONS = {
    1: "invalid zoned digit (byte is not a digit)",
    2: "invalid sign zone",
    3: "negative sign in an unsigned field",
    4: "invalid separate sign character",
}


def decode_zoned(
    block: np.ndarray,
    signed: bool,
    *,
    sign_separate: bool = False,
    sign_leading: bool = False,
    ebcdic: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(records, bytes) uint8 → (int64 values, bad mask, reason codes); see ZONED_REASONS."""
    n = block.shape[0]
    reason = np.zeros(n, dtype=np.int8)
    negative = np.zeros(n, dtype=bool)
    if sign_separate:
        plus, minus = (0x4E, 0x60) if ebcdic else (0x2B, 0x2D)
        sign_byte = block[:, 0] if sign_leading else block[:, -1]
        digits_block = block[:, 1:] if sign_leading else block[:, :-1]
        negative = sign_byte == minus
        reason[(sign_byte != plus) & ~negative] = 4
    else:
        digits_block = block
    width = digits_block.shape[1]
    zone = digits_block >> 4
    digit = digits_block & 0x0F
    digit_zone = 0xF if ebcdic else 0x3
    bad_digit = (digit > 9).any(axis=1)
    if width > 1:
        bad_digit |= (zone[:, :-1] != digit_zone).any(axis=1)
    if not sign_separate:
        last = zone[:, -1]
        if ebcdic:
            negative = last == 0xD
            bad_sign = ~((last == 0xF) | (last == 0xC) | negative)
        else:
            negative = last == 0x7  # GnuCOBOL/Micro Focus ASCII: 'p'..'y'
            bad_sign = ~((last == 0x3) | negative)
        reason[(reason == 0) & bad_sign] = 2
    reason[(reason == 0) & bad_digit] = 1
    value = np.zeros(n, dtype=np.int64)
    for i in range(width):
        value *= 10
        value += digit[:, i]
    np.negative(value, out=value, where=negative)
    if not signed:
        reason[(reason == 0) & negative] = 3
    return value, reason != 0, reason
