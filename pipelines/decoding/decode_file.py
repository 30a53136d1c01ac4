"""A whole file through the engine: framing, decoding, faults with file-level coordinates.

This is what `ledgerbridge decode` runs; the legacy dlt source uses the same decoders on the
same record matrices, adding trailer checks and quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import numpy as np
import pyarrow as pa

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.framing import Framing
from pipelines.decoding.reader import RecordChunk, read_records
from pipelines.decoding.records import DecodeOptions, decode_chunk, fault_entries
from pipelines.decoding.variable_occurs import split_variable_records


class StrictModeError(ValueError):
    """--strict: the first value that does not decode stops the run."""


@dataclass
class DecodedBatch:
    table: pa.Table
    errors: dict[int, list[dict]]  # row index → error entries
    chunk: RecordChunk


def _variable_chunks(url: str, layout: RecordLayout, framing: Framing) -> Iterator[RecordChunk]:
    with fsspec.open(url, "rb") as fh:
        data = fh.read()
    end = len(data) - framing.file_end_offset
    matrix, offsets = split_variable_records(data, layout, framing.file_start_offset, end)
    lengths = np.diff(np.append(offsets, end))
    for i in range(0, len(offsets), 65_536):
        part = slice(i, i + 65_536)
        yield RecordChunk(1 + i, offsets[part], lengths[part], matrix[part])


def decode_file(
    url: str,
    layout: RecordLayout,
    opts: DecodeOptions,
    framing: Framing,
    strict: bool = False,
    variable_size_occurs: bool = False,
) -> Iterator[DecodedBatch]:
    chunks = (
        _variable_chunks(url, layout, framing)
        if variable_size_occurs
        else read_records(url, framing, layout.size)
    )
    for chunk in chunks:
        table, faults = decode_chunk(chunk.records, layout, opts)
        errors = fault_entries(faults, chunk.records)
        if strict and errors:
            i = min(errors)
            entry = errors[i][0]
            raise StrictModeError(
                f"{url}: record {chunk.first_record + i} at byte offset "
                f"{int(chunk.offsets[i])}: field {entry['field']} (record offset "
                f"{entry['offset']}, bytes {entry['raw_hex']}): {entry['reason']}"
            )
        yield DecodedBatch(table, errors, chunk)
