"""Record framing: where each record starts and how long it is, for every record format.

F/FB: fixed length. V: each record behind a 4-byte RDW. VB: blocks behind a 4-byte BDW,
holding RDW records. Or the length read from a field of the record itself. File headers and
footers can be skipped by byte counts. A framing fault names the byte offset and record.

Variable formats are walked record by record (each length says where the next starts);
decoding then works on a zero-padded (records × width) matrix, so the same vectorised
decoders serve every format. Records shorter than the copybook decode with their missing
bytes as x'00' (absent values), as Cobrix does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RECORD_FORMATS = ("F", "FB", "V", "VB")


class FramingError(ValueError):
    """The bytes do not frame into records; the message names byte offset and record."""


@dataclass(frozen=True)
class Framing:
    record_format: str = "F"
    record_length: int | None = None  # F/FB: default the copybook's record size
    rdw_big_endian: bool = True  # IBM: big-endian RDW/BDW lengths
    rdw_includes_header: bool = True  # IBM: the length counts the 4 RDW bytes themselves
    rdw_adjustment: int = 0  # added to every RDW length (e.g. -4, +4)
    file_start_offset: int = 0  # bytes of file header to skip
    file_end_offset: int = 0  # bytes of file footer to skip

    def __post_init__(self) -> None:
        if self.record_format not in RECORD_FORMATS:
            raise ValueError(
                f"record format {self.record_format!r}: one of {', '.join(RECORD_FORMATS)}"
            )


def _descriptor_length(b: bytes, big_endian: bool) -> int:
    if big_endian:
        return (b[0] << 8) | b[1]
    # little-endian, as rehosted files and Cobrix write it: 00 00 40 00 → 64
    if b[0] == 0 and b[1] == 0:
        return b[2] | (b[3] << 8)
    return b[0] | (b[1] << 8)


def fixed_records(
    framing: Framing, record_size: int, start: int, end: int, name: str
) -> tuple[int, int]:
    """(record length, record count) of fixed-length records between `start` and `end`;
    a partial last record is a fault naming its number and byte offset."""
    size = framing.record_length or record_size
    body = end - start
    if body % size:
        whole = body // size
        raise FramingError(
            f"{name}: {body} bytes of records is not a multiple of the record length "
            f"{size}; record {whole + 1} at byte offset {start + whole * size} is truncated"
        )
    return size, body // size


def frame(
    data: bytes | np.ndarray,
    framing: Framing,
    record_size: int,
    name: str = "<data>",
    length_of: Callable[[bytes, int], int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(start offsets, lengths) of every record's payload in `data`.

    `length_of(payload_start)` may give each record's length from a field of the record.
    """
    buf = bytes(data)
    start = framing.file_start_offset
    end = len(buf) - framing.file_end_offset
    if end < start:
        raise FramingError(
            f"{name}: file of {len(buf)} bytes is smaller than the header "
            f"({framing.file_start_offset}) and footer ({framing.file_end_offset})"
        )
    if length_of is not None:
        return _walk_length_field(buf, start, end, name, length_of)
    if framing.record_format in ("F", "FB"):
        size, n = fixed_records(framing, record_size, start, end, name)
        return start + np.arange(n, dtype=np.int64) * size, np.full(n, size, dtype=np.int64)
    if framing.record_format == "V":
        return _walk_rdw(buf, start, end, framing, name)
    return _walk_blocks(buf, start, end, framing, name)


def _walk_rdw(
    buf: bytes,
    pos: int,
    end: int,
    framing: Framing,
    name: str,
    number: int = 1,
    partial: list[int] | None = None,
    base: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Records behind RDWs from `pos` to `end`. With `partial` given (streaming), a record
    that runs past `end` is not an error: its offset goes into `partial` and the walk stops.
    `base` is the file offset of `buf[0]`, for the messages."""
    starts: list[int] = []
    lengths: list[int] = []
    header = 4 if framing.rdw_includes_header else 0
    while pos < end:
        if pos + 4 > end:
            if partial is not None:
                partial.append(pos)
                break
            raise FramingError(
                f"{name}: truncated RDW at byte offset {base + pos} (record {number + len(starts)})"
            )
        length = _descriptor_length(buf[pos : pos + 4], framing.rdw_big_endian)
        payload = length - header + framing.rdw_adjustment
        if partial is not None and payload > 0 and pos + 4 + payload > end:
            partial.append(pos)
            break
        if payload <= 0 or pos + 4 + payload > end:
            raise FramingError(
                f"{name}: RDW at byte offset {base + pos} (record {number + len(starts)}) gives a "
                f"payload of {payload} bytes; {end - pos - 4} bytes remain"
            )
        starts.append(pos + 4)
        lengths.append(payload)
        pos += 4 + payload
    return np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64)


def _walk_blocks(
    buf: bytes, pos: int, end: int, framing: Framing, name: str
) -> tuple[np.ndarray, np.ndarray]:
    starts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    count = 0
    while pos < end:
        if pos + 4 > end:
            raise FramingError(f"{name}: truncated BDW at byte offset {pos}")
        block = _descriptor_length(buf[pos : pos + 4], framing.rdw_big_endian)
        if block <= 4 or pos + block > end:
            raise FramingError(
                f"{name}: BDW at byte offset {pos} gives a block of {block} "
                f"bytes; {end - pos} bytes remain"
            )
        s, n = _walk_rdw(buf, pos + 4, pos + block, framing, name, count + 1)
        starts.append(s)
        lengths.append(n)
        count += len(s)
        pos += block
    if not starts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(starts), np.concatenate(lengths)


def _walk_length_field(
    buf: bytes, pos: int, end: int, name: str, length_of: callable
) -> tuple[np.ndarray, np.ndarray]:
    starts: list[int] = []
    lengths: list[int] = []
    while pos < end:
        length = length_of(buf, pos)
        if length <= 0 or pos + length > end:
            raise FramingError(
                f"{name}: record {len(starts) + 1} at byte offset {pos} has a "
                f"length field of {length}; {end - pos} bytes remain"
            )
        starts.append(pos)
        lengths.append(length)
        pos += length
    return np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64)


def gather(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Records → a (records × width) matrix, zero-padded past each record's length."""
    if len(starts) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    cols = np.arange(width, dtype=np.int64)
    idx = starts[:, None] + cols[None, :]
    inside = cols[None, :] < np.minimum(lengths, width)[:, None]
    out = data[np.minimum(idx, len(data) - 1)]
    out[~inside] = 0
    return out
