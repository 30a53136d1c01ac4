"""Compiled (numba) kernel for alphanumeric fields: every text column of a chunk in one
pass over the records, as Arrow strings or string views.

Record-major on purpose: a column-at-a-time decoder walks the whole record matrix once
per text field (a 4 MB chunk, six text fields: 24 MB read from L3 or memory for 4 MB of
input), which is what two workers compete for on a shared cache. Here each record is read
once while it is in L1 and every column's output is written as a sequential stream.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _encode(  # pragma: no cover - compiled
    records: np.ndarray,
    i: int,
    start: int,
    end: int,
    utf8: np.ndarray,
    utf8_len: np.ndarray,
    t: int,
    out: np.ndarray,
    pos: int,
) -> int:
    """Bytes [start, end) of record i as UTF-8 into out[pos:]; returns the new end."""
    for j in range(start, end):
        b = records[i, j]
        size = utf8_len[t, b]
        out[pos] = utf8[t, b, 0]
        for q in range(1, size):
            out[pos + q] = utf8[t, b, q]
        pos += size
    return pos


@njit(cache=True, nogil=True)
def text_columns(  # pragma: no cover - compiled
    records: np.ndarray,
    offsets: np.ndarray,
    widths: np.ndarray,
    tables: np.ndarray,
    utf8: np.ndarray,
    utf8_len: np.ndarray,
    is_space: np.ndarray,
    trim_left: bool,
    trim_right: bool,
    as_views: bool,
    views: np.ndarray,
    string_offsets: np.ndarray,
    data: np.ndarray,
    data_base: np.ndarray,
    used: np.ndarray,
) -> None:
    """Text fields f (byte `offsets[f]`, `widths[f]`, code-page table `tables[f]`) of
    every record, trimmed of spaces, into field f's region of `data` (from `data_base[f]`).

    `as_views`: `views[f, i]` is record i's Arrow string view (16 bytes: length, then the
    value inline when it has at most 12 bytes, else a 4-byte prefix, buffer 0 and its
    offset in the field's region), so short codes never touch `data`. Otherwise
    `string_offsets[f]` are Arrow string offsets into the region. `used[f]` ends up as
    the bytes of the region in use."""
    n = records.shape[0]
    k = offsets.shape[0]
    for f in range(k):
        used[f] = 0
        if not as_views:
            string_offsets[f, 0] = 0
    for i in range(n):
        for f in range(k):
            t = tables[f]
            start = offsets[f]
            end = start + widths[f]
            # trimming scans from each end (trailing spaces are never encoded), then one
            # pass counts the UTF-8 length so each value is written once, in its place
            if trim_right:
                while end > start and is_space[t, records[i, end - 1]]:
                    end -= 1
            if trim_left:
                while start < end and is_space[t, records[i, start]]:
                    start += 1
            length = 0
            for j in range(start, end):
                length += utf8_len[t, records[i, j]]
            begin = used[f]
            if not as_views:
                _encode(records, i, start, end, utf8, utf8_len, t, data, data_base[f] + begin)
                used[f] = begin + length
                string_offsets[f, i + 1] = begin + length
                continue
            view = views[f, i]
            view[0] = length & 0xFF
            view[1] = (length >> 8) & 0xFF
            view[2] = (length >> 16) & 0xFF
            view[3] = (length >> 24) & 0xFF
            if length <= 12:
                for q in range(4, 16):
                    view[q] = 0  # inline values are zero-padded
                _encode(records, i, start, end, utf8, utf8_len, t, view, 4)
                continue
            at = data_base[f] + begin
            _encode(records, i, start, end, utf8, utf8_len, t, data, at)
            for q in range(4):
                view[4 + q] = data[at + q]
                view[8 + q] = 0  # buffer index 0: the field's own region
            view[12] = begin & 0xFF
            view[13] = (begin >> 8) & 0xFF
            view[14] = (begin >> 16) & 0xFF
            view[15] = (begin >> 24) & 0xFF
            used[f] = begin + length
