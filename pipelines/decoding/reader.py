"""Stream records from a file of any size: bounded memory, any record format.

Reads fixed-size byte blocks through fsspec, frames the complete records in each block
and carries an incomplete last record over to the next block. Yields zero-padded record
matrices ready for `decode_chunk`, with each record's number and byte offset in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import numpy as np

from pipelines.decoding.framing import Framing, FramingError, _walk_rdw, frame, gather

BLOCK_BYTES = 4 << 20


@dataclass(frozen=True)
class RecordChunk:
    first_record: int  # 1-based number of the first record in the chunk
    offsets: np.ndarray  # byte offset of each record's payload in the file
    lengths: np.ndarray  # payload length of each record
    records: np.ndarray  # (n, width) uint8, zero-padded


def read_records(
    url: str, framing: Framing, width: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[RecordChunk]:
    fs, path = fsspec.core.url_to_fs(url)
    size = fs.size(path)
    start = framing.file_start_offset
    end = size - framing.file_end_offset
    if end < start:
        raise FramingError(f"{url}: file of {size} bytes is smaller than its header and footer")
    number = 1
    if framing.record_format in ("F", "FB"):
        rec = framing.record_length or width
        if (end - start) % rec:
            whole = (end - start) // rec
            raise FramingError(
                f"{url}: {end - start} bytes of records is not a multiple of the record length "
                f"{rec}; record {whole + 1} at byte offset {start + whole * rec} is truncated"
            )
        step = max(rec, block_bytes // rec * rec)
        with fs.open(path, "rb") as fh:
            fh.seek(start)
            pos = start
            while pos < end:
                data = fh.read(min(step, end - pos))
                n = len(data) // rec
                buf = np.frombuffer(data, dtype=np.uint8)
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
                pos += len(data)
        return
    if framing.record_format == "VB":
        # blocks are small and self-delimiting; read whole and frame (bounded by the file)
        with fs.open(path, "rb") as fh:
            data = fh.read()
        starts, lengths = frame(data, framing, width, url)
        buf = np.frombuffer(data, dtype=np.uint8)
        for i in range(0, len(starts), 65_536):
            s, n = starts[i : i + 65_536], lengths[i : i + 65_536]
            yield RecordChunk(1 + i, s, n, gather(buf, s, n, width))
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
            starts, lengths = _walk_rdw(buf, 0, len(buf), framing, url, number, partial)
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
