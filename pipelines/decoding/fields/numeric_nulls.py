"""The documented "no value" rule for numeric fields.

A numeric field whose bytes are all spaces, all low-values (x'00') or all high-values (x'FF')
carries no value: it decodes to null and is not an error. Anything else must decode cleanly.
"""

from __future__ import annotations

import numpy as np


def no_value_mask(block: np.ndarray, space: int) -> np.ndarray:
    """Rows of `block` that are entirely one filler byte. Only rows whose first byte is a
    filler are checked in full: on real data that is almost none, so this stays cheap."""
    first = block[:, 0]
    mask = (first == space) | (first == 0x00) | (first == 0xFF)
    rows = np.flatnonzero(mask)
    if len(rows):
        sub = block[rows]
        mask[rows] = (sub == sub[:, :1]).all(axis=1)
    return mask
