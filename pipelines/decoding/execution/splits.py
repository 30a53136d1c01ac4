"""Cut a file into (byte range, first record number) splits on record boundaries.

A split is the unit of parallel work: a worker process (or, later, a machine of a
distributed engine) reads and decodes its range alone. Fixed-length files split by
arithmetic; V and VB files are walked once, header by header, by a compiled loop that
touches four bytes per record or block, so planning costs a sequential read and little CPU.
A framing fault is not raised here: the split that contains it runs to the end of the file,
and decoding that split reports the fault with its byte offset and record number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import numpy as np
from numba import njit

from pipelines.decoding.records.framing import Framing, FramingError, fixed_records

SPLIT_BYTES = 16 << 20


@dataclass(frozen=True)
class Split:
    url: str
    start: int  # byte offset of the first record (VB: of the first block)
    end: int  # byte offset just past the last
    first_record: int  # 1-based number of the first record in the file


@njit(cache=True, nogil=True)
def _descriptor(buf: np.ndarray, pos: int, big_endian: bool) -> int:
    if big_endian:
        return (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
    if buf[pos] == 0 and buf[pos + 1] == 0:
        return np.int64(buf[pos + 2]) | (np.int64(buf[pos + 3]) << 8)
    return np.int64(buf[pos]) | (np.int64(buf[pos + 1]) << 8)


@njit(cache=True, nogil=True)
def _walk(
    buf: np.ndarray,
    limit: int,
    blocked: bool,
    big_endian: bool,
    header: int,
    adjustment: int,
) -> tuple[int, int, bool]:
    """Whole records (V) or blocks (VB) from the start of `buf` while they end within it
    and start before `limit`: (bytes walked, records counted, fault seen)."""
    pos = 0
    count = 0
    end = len(buf)
    while pos < limit:
        if pos + 4 > end:
            return pos, count, False
        unit = _descriptor(buf, pos, big_endian)
        if not blocked:
            payload = unit - header + adjustment
            if payload <= 0:
                return pos, count, True
            if pos + 4 + payload > end:
                return pos, count, False
            pos += 4 + payload
            count += 1
            continue
        if unit <= 4:
            return pos, count, True
        if pos + unit > end:
            return pos, count, False
        inner = pos + 4
        while inner < pos + unit:
            if inner + 4 > pos + unit:
                return pos, count, True
            payload = _descriptor(buf, inner, big_endian) - header + adjustment
            if payload <= 0 or inner + 4 + payload > pos + unit:
                return pos, count, True
            inner += 4 + payload
            count += 1
        pos += unit
    return pos, count, False


def _split_size(remaining: int, split_bytes: int, workers: int) -> int:
    """The next split's size: a share of what remains, between a sixteenth and all of
    `split_bytes` (one worker has nobody to wait for: always the full size)."""
    if workers <= 1:
        return split_bytes
    return max(min(split_bytes, remaining // (2 * workers)), split_bytes // 16, 1)


def plan_splits(
    url: str,
    framing: Framing,
    record_size: int,
    split_bytes: int = SPLIT_BYTES,
    workers: int = 1,
) -> Iterator[Split]:
    """Splits of at most `split_bytes` covering the file between its header and footer.

    Sizes are guided (as OpenMP's guided schedule): full splits while much of the file
    remains, then ever smaller ones (down to a sixteenth: 1 MB, a few ms of work), so the
    workers finish together instead of one idling while another decodes a last large
    split alone."""
    fs, path = fsspec.core.url_to_fs(url)
    size = fs.size(path)
    start = framing.file_start_offset
    end = size - framing.file_end_offset
    if end < start:
        raise FramingError(f"{url}: file of {size} bytes is smaller than its header and footer")
    if framing.record_format in ("F", "FB"):
        rec, total = fixed_records(framing, record_size, start, end, url)
        done = 0
        while done < total:
            per = max(1, _split_size((total - done) * rec, split_bytes, workers) // rec)
            stop = min(total, done + per)
            yield Split(url, start + done * rec, start + stop * rec, done + 1)
            done = stop
        return
    header = 4 if framing.rdw_includes_header else 0
    blocked = framing.record_format == "VB"
    number = 1
    # a V record or VB block is at most 64 KiB: reading split + 64 KiB holds the record
    # or block that straddles the split's nominal end
    with fs.open(path, "rb") as fh:
        pos = start
        while pos < end:
            goal = _split_size(end - pos, split_bytes, workers)
            fh.seek(pos)
            buf = np.frombuffer(fh.read(min(goal + (64 << 10), end - pos)), dtype=np.uint8)
            walked, count, fault = _walk(
                buf,
                min(goal, len(buf)),
                blocked,
                framing.rdw_big_endian,
                header,
                framing.rdw_adjustment,
            )
            if fault or walked == 0:
                # the split holding the fault (or a truncated tail) runs to the end; its
                # decoder names the byte offset and record
                yield Split(url, pos, end, number)
                return
            yield Split(url, pos, pos + walked, number)
            pos += walked
            number += count
