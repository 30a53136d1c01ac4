"""A whole file through the engine: framing, decoding, faults with file-level coordinates.

This is what `ledgerbridge decode` runs; the legacy dlt source uses the same decoders on the
same record matrices, adding trailer checks and quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.framing import Framing
from pipelines.decoding.reader import RecordChunk, read_records
from pipelines.decoding.records import DecodeOptions, decode_chunk


class StrictModeError(ValueError):
    """--strict: the first value that does not decode stops the run."""


@dataclass
class DecodedBatch:
    table: pa.Table
    errors: dict[int, list[dict]]  # row index → error entries
    chunk: RecordChunk


def decode_file(
    url: str, layout: RecordLayout, opts: DecodeOptions, framing: Framing, strict: bool = False
) -> Iterator[DecodedBatch]:
    for chunk in read_records(url, framing, layout.size):
        table, faults = decode_chunk(chunk.records, layout, opts)
        errors: dict[int, list[dict]] = {}
        for f in faults:
            for i in np.flatnonzero(f.bad).tolist():
                raw = chunk.records[i, f.field.offset : f.field.offset + f.field.size]
                entry = {
                    "field": f.field.name,
                    "offset": f.field.offset,
                    "raw_hex": raw.tobytes().hex().upper(),
                    "reason": str(f.reasons[i]),
                }
                if strict:
                    raise StrictModeError(
                        f"{url}: record {chunk.first_record + i} at byte offset "
                        f"{int(chunk.offsets[i])}: field {f.field.name} (record offset "
                        f"{f.field.offset}, bytes {entry['raw_hex']}): {entry['reason']}"
                    )
                errors.setdefault(i, []).append(entry)
        yield DecodedBatch(table, errors, chunk)
