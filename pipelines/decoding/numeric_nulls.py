"""The documented "no value" rule for numeric fields.

A numeric field whose bytes are all spaces, all low-values (x'00') or all high-values (x'FF')
carries no value: it decodes to null and is not an error. Anything else must decode cleanly.
"""

from __future__ import annotations

import numpy as np


def no_value_mask(block: np.ndarray, space: int) -> np.ndarray:
    first = block[:, :1]
    uniform = (block == first).all(axis=1)
    f = first[:, 0]
    return uniform & ((f == space) | (f == 0x00) | (f == 0xFF))
