"""A chunk of fixed-length records + a copybook layout → an Arrow table and per-field faults.

Every field is decoded for the whole chunk at once. A value that does not decode becomes null
and is reported as a `FieldFault` (field, offset, reason per record); what to do with the
record — keep it with its error list or quarantine it — is the caller's policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from pipelines.copybook.model import Field, RecordLayout, Usage
from pipelines.decoding.arrow_columns import date_array, decimal_array, int_array
from pipelines.decoding.binary import decode_binary
from pipelines.decoding.codepages import is_ebcdic, space_byte
from pipelines.decoding.dates import digits_to_date
from pipelines.decoding.numeric_nulls import no_value_mask
from pipelines.decoding.packed import PACKED_REASONS, decode_packed
from pipelines.decoding.text import decode_text
from pipelines.decoding.zoned import ZONED_REASONS, decode_zoned


@dataclass(frozen=True)
class DecodeOptions:
    """How to read a feed's fields beyond what the copybook says."""

    codepage: str = "cp273"
    dates: Mapping[str, str] = field(default_factory=dict)  # column → date format
    trim: str = "right"
    controls: str = "space"  # control bytes in text: "space" or "keep"


@dataclass
class FieldFault:
    """Records (by mask) whose `field` did not decode, with a reason for each."""

    field: Field
    bad: np.ndarray
    reasons: np.ndarray  # object array of str, meaningful where `bad`


def _reasons(codes: np.ndarray, table: Mapping[int, str]) -> np.ndarray:
    lookup = np.array([""] + [table.get(i, "invalid value") for i in range(1, 8)], dtype=object)
    return lookup[codes.astype(np.int64)]


def _numeric(
    f: Field, block: np.ndarray, opts: DecodeOptions
) -> tuple[pa.Array, FieldFault | None]:
    pic = f.picture
    ebcdic = is_ebcdic(opts.codepage)
    empty = no_value_mask(block, space_byte(opts.codepage))
    if f.usage is Usage.PACKED:
        value, bad, codes = decode_packed(block, pic.signed)
        reasons = _reasons(codes, PACKED_REASONS)
    elif f.usage in (Usage.BINARY, Usage.NATIVE_BINARY):
        value = decode_binary(block, pic.signed)
        bad = np.zeros(len(value), dtype=bool)
        reasons = np.full(len(value), "", dtype=object)
        empty = np.zeros(len(value), dtype=bool)  # every bit pattern is a binary number
    else:
        value, bad, codes = decode_zoned(
            block,
            pic.signed,
            sign_separate=f.sign_separate,
            sign_leading=f.sign_leading,
            ebcdic=ebcdic,
        )
        reasons = _reasons(codes, ZONED_REASONS)
    bad &= ~empty
    date_format = opts.dates.get(f.column)
    if date_format:
        days, zero, bad_date = digits_to_date(value, date_format)
        bad_date &= ~bad & ~empty
        reasons = np.where(bad_date, f"not a valid {date_format} date", reasons)
        bad |= bad_date
        valid = ~(bad | empty | zero)
        arr = date_array(np.where(valid, days, 0), valid)
    else:
        valid = ~(bad | empty)
        value = np.where(valid, value, 0)
        if pic.scale > 0 or value.dtype == object:
            arr = decimal_array(value, valid, pic.digits, pic.scale)
        else:
            arr = int_array(value, valid)
    fault = FieldFault(f, bad, reasons) if bad.any() else None
    return arr, fault


def decode_chunk(
    records: np.ndarray, layout: RecordLayout, opts: DecodeOptions
) -> tuple[pa.Table, list[FieldFault]]:
    """`records` is (n, layout.size) uint8. Returns the decoded table and the faults found."""
    if records.shape[1] < layout.size:
        raise ValueError(
            f"records of {records.shape[1]} bytes are shorter than layout "
            f"{layout.name} ({layout.size} bytes)"
        )
    columns: dict[str, pa.Array] = {}
    faults: list[FieldFault] = []
    for f in layout.fields:
        block = records[:, f.offset : f.offset + f.size]
        if f.picture.is_numeric:
            arr, fault = _numeric(f, block, opts)
            if fault is not None:
                faults.append(fault)
        else:
            arr = decode_text(block, opts.codepage, opts.trim, opts.controls)
        columns[f.column] = arr
    return pa.table(columns), faults
