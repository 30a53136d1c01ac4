"""Stream records from a file of any size: bounded memory, any record format.

Reads fixed-size byte blocks through fsspec, frames the complete records in each block
and carries an incomplete last record over to the next block. Yields zero-padded record
matrices ready for `decode_chunk`, with each record's number and byte offset in the file.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from pipelines.decoding.records.framing import (
    Framing,
    FramingError,
    _descriptor_length,
    _walk_rdw,
    fixed_records,
    gather,
)

BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class RecordChunk:
    first_record: int  # 1-based number of the first record in the chunk
    offsets: np.ndarray  # byte offset of each record's payload in the file
    lengths: np.ndarray  # payload length of each record
    records: np.ndarray  # (n, width) uint8, zero-padded


@contextlib.contextmanager
def _fixed_blocks(
    fs: object, path: str, start: int, end: int, step: int
) -> Iterator[Iterator[np.ndarray]]:
    """The bytes [start, end) in blocks of `step`.

    A local file is memory-mapped: the decoder reads the page cache in place, where
    read() would first copy every byte into a fresh buffer — with two workers, memory
    traffic is what the cores compete for. Other filesystems stream through fsspec."""
    if isinstance(fs, LocalFileSystem) and end > start:
        with open(path, "rb") as fh:
            base = start - start % mmap.ALLOCATIONGRANULARITY
            mapping = mmap.mmap(fh.fileno(), end - base, offset=base, access=mmap.ACCESS_READ)
        mapping.madvise(mmap.MADV_SEQUENTIAL)
        # no close(): a decoded value that still shares a page keeps the mapping alive
        data = np.frombuffer(mapping, dtype=np.uint8)[start - base :]
        yield (data[i : i + step] for i in range(0, end - start, step))
        return

    def stream() -> Iterator[np.ndarray]:
        with fs.open(path, "rb") as fh:  # type: ignore[attr-defined]
            fh.seek(start)
            pos = start
            while pos < end:
                data = fh.read(min(step, end - pos))
                if not data:
                    raise FramingError(f"{path}: file ended at byte offset {pos}, before {end}")
                pos += len(data)
                yield np.frombuffer(data, dtype=np.uint8)

    yield stream()


def read_records(
    url: str,
    framing: Framing,
    width: int,
    block_bytes: int = BLOCK_BYTES,
    span: tuple[int, int, int] | None = None,
) -> Iterator[RecordChunk]:
    """`span` = (start, end, number of the first record) reads one split of the file
    (see splits.py); by default the whole file between its header and footer."""
    fs, path = fsspec.core.url_to_fs(url)
    if span is None:
        size = fs.size(path)
        start = framing.file_start_offset
        end = size - framing.file_end_offset
        if end < start:
            raise FramingError(f"{url}: file of {size} bytes is smaller than its header and footer")
        number = 1
    else:
        start, end, number = span
    if framing.record_format in ("F", "FB"):
        rec, _ = fixed_records(framing, width, start, end, url)
        step = max(rec, block_bytes // rec * rec)
        with _fixed_blocks(fs, path, start, end, step) as blocks:
            pos = start
            for buf in blocks:
                n = len(buf) // rec
                records = buf.reshape(n, rec)
                if rec != width:
                    records = gather(
                        buf,
                        np.arange(n, dtype=np.int64) * rec,
                        np.full(n, rec, dtype=np.int64),
                        width,
                    )
                offsets = pos + np.arange(n, dtype=np.int64) * rec
                yield RecordChunk(number, offsets, np.full(n, rec, dtype=np.int64), records)
                number += n
                pos += len(buf)
        return
    if framing.record_format == "VB":
        yield from _read_blocked(fs, path, url, framing, width, start, end, block_bytes, number)
        return
    with fs.open(path, "rb") as fh:
        fh.seek(start)
        carry = b""
        base = start  # file offset of carry[0]
        pos = start
        while pos < end or carry:
            data = fh.read(min(block_bytes, end - pos)) if pos < end else b""
            pos += len(data)
            buf = carry + data
            last = pos >= end
            partial: list[int] | None = None if last else []
            starts, lengths = _walk_rdw(buf, 0, len(buf), framing, url, number, partial, base)
            arr = np.frombuffer(buf, dtype=np.uint8)
            if len(starts):
                yield RecordChunk(
                    number, base + starts, lengths, gather(arr, starts, lengths, width)
                )
                number += len(starts)
            consumed = partial[0] if partial else len(buf)
            carry = buf[consumed:]
            base += consumed
            if last:
                break


def _read_blocked(
    fs: object,
    path: str,
    url: str,
    framing: Framing,
    width: int,
    start: int,
    end: int,
    block_bytes: int,
    number: int = 1,
) -> Iterator[RecordChunk]:
    """VB: whole blocks (BDW + RDW records) gathered up to `block_bytes` at a time."""
    with fs.open(path, "rb") as fh:  # type: ignore[attr-defined]
        fh.seek(start)
        pos = start
        while pos < end:
            buf = bytearray()
            base = pos
            spans: list[tuple[int, int]] = []
            while pos < end and len(buf) < block_bytes:
                bdw = fh.read(4)
                if len(bdw) < 4:
                    raise FramingError(f"{url}: truncated BDW at byte offset {pos}")
                size = _descriptor_length(bdw, framing.rdw_big_endian)
                if size <= 4 or pos + size > end:
                    raise FramingError(
                        f"{url}: BDW at byte offset {pos} gives a block of "
                        f"{size} bytes; {end - pos} bytes remain"
                    )
                spans.append((len(buf) + 4, len(buf) + size))
                buf += bdw + fh.read(size - 4)
                pos += size
            data = bytes(buf)
            starts, lengths = [], []
            for lo, hi in spans:
                first = number + sum(map(len, starts))
                s, n = _walk_rdw(data, lo, hi, framing, url, first, base=base)
                starts.append(s)
                lengths.append(n)
            s, n = np.concatenate(starts), np.concatenate(lengths)
            arr = np.frombuffer(data, dtype=np.uint8)
            yield RecordChunk(number, base + s, n, gather(arr, s, n, width))
            number += len(s)
