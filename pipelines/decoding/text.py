"""Alphanumeric (PIC X/A) fields → Arrow strings, right-trimmed.

One codec call per column chunk instead of one per value: the C codec runs at ~1 GB/s and
the offsets come from a per-byte UTF-8 length table, so no Python loop touches a record.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.decoding.codepages import codec_name, control_to_space_table, utf8_lengths


def decode_text(
    block: np.ndarray, codepage: str, trim: str = "right", controls: str = "space"
) -> pa.StringArray:
    """`block` is (records, width) uint8; returns one string per record.

    Trimming policy (of spaces only): "right" (default: COBOL pads on the right), "left",
    "both" or "none". Control bytes: "space" (default, see
    `codepages.control_to_space_table`) or "keep".
    """
    n, width = block.shape
    raw = np.ascontiguousarray(block).tobytes()
    if controls == "space":
        raw = raw.translate(control_to_space_table(codepage))
    elif controls != "keep":
        raise ValueError(f"unknown control-byte policy {controls!r}: space or keep")
    data = raw.decode(codec_name(codepage)).encode("utf-8")
    if len(data) == n * width:
        offsets = np.arange(0, n * width + 1, width, dtype=np.int64)
    else:
        translated = np.frombuffer(raw, dtype=np.uint8).reshape(n, width)
        per_record = utf8_lengths(codepage)[translated].sum(axis=1)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(per_record, out=offsets[1:])
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    if trim == "right":
        arr = pc.utf8_rtrim(arr, characters=" ")
    elif trim == "left":
        arr = pc.utf8_ltrim(arr, characters=" ")
    elif trim == "both":
        arr = pc.utf8_trim(arr, characters=" ")
    elif trim != "none":
        raise ValueError(f"unknown trimming policy {trim!r}: none, left, right or both")
    return arr.cast(pa.string())
