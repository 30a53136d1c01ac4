"""Fixed-length (RECFM F/FB) files read through fsspec in chunks of whole records.

Memory stays bounded by the chunk size whatever the file size; record numbers are 1-based
and count every record in the file (header and trailer included), as operators number them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import numpy as np

CHUNK_RECORDS = 8_192


class FileFault(ValueError):
    """The file as a whole is unusable; the message names file, byte offset and record."""


@dataclass(frozen=True)
class Chunk:
    first_record: int  # 1-based number of the first record in `records`
    records: np.ndarray  # (n, record_length) uint8


def iter_chunks(
    url: str, record_length: int, chunk_records: int = CHUNK_RECORDS
) -> Iterator[Chunk]:
    fs, path = fsspec.core.url_to_fs(url)
    size = fs.size(path)
    if size % record_length:
        whole = size // record_length
        raise FileFault(
            f"{url}: length {size} is not a multiple of the record length {record_length}; "
            f"record {whole + 1} at byte offset {whole * record_length} is truncated "
            f"({size - whole * record_length} of {record_length} bytes)"
        )
    step = record_length * chunk_records
    number = 1
    with fs.open(path, "rb") as fh:
        while data := fh.read(step):
            n = len(data) // record_length
            yield Chunk(number, np.frombuffer(data, dtype=np.uint8).reshape(n, record_length))
            number += n
