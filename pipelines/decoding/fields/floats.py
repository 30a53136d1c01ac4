"""COMP-1 / COMP-2 floating point: IBM hexadecimal (the mainframe's own) or IEEE-754.

IBM hex float: sign bit, 7-bit exponent of 16 biased by 64, and a 24- or 56-bit fraction.
The value is converted to float64 (COMP-2's 56-bit fraction rounds to 53 bits); floats are
only ever used for these usages, never for money.
"""

from __future__ import annotations

import numpy as np


def decode_float(block: np.ndarray, fmt: str = "ibm") -> np.ndarray:
    width = block.shape[1]
    raw = np.ascontiguousarray(block)
    if fmt == "ieee":
        return raw.view(np.dtype(f">f{width}")).reshape(-1).astype(np.float64)
    if fmt != "ibm":
        raise ValueError(f"unknown floating-point format {fmt!r}: ibm or ieee")
    words = raw.view(np.dtype(f">u{width}")).reshape(-1).astype(np.uint64)
    bits = 8 * width
    sign = (words >> np.uint64(bits - 1)) & np.uint64(1)
    exponent = ((words >> np.uint64(bits - 8)) & np.uint64(0x7F)).astype(np.int64) - 64
    fraction = (words & np.uint64((1 << (bits - 8)) - 1)).astype(np.float64)
    value = fraction / float(1 << (bits - 8)) * np.power(16.0, exponent)
    return np.where(sign == 1, -value, value)
