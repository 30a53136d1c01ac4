"""Binary integers (COMP / COMP-4 / BINARY / COMP-5).

Big-endian two's complement on the mainframe; little-endian for rehosted COMP-5.
"""

from __future__ import annotations

import numpy as np


def decode_binary(block: np.ndarray, signed: bool, *, little_endian: bool = False) -> np.ndarray:
    """(records, 2|4|8) uint8 → int64 values, read straight from the buffer as words."""
    width = block.shape[1]
    kind = "i" if signed else "u"
    dtype = np.dtype(f"{'<' if little_endian else '>'}{kind}{width}")
    words = np.ascontiguousarray(block).view(dtype).reshape(-1)
    return words.astype(np.int64)


def decode_wide_binary(block: np.ndarray, signed: bool) -> np.ndarray:
    """Binary fields wider than 8 bytes (more than 18 digits) → Python ints, exact."""
    return np.array(
        [int.from_bytes(row.tobytes(), "big", signed=signed) for row in block], dtype=object
    )
