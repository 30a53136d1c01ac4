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
import pyarrow.compute as pc

from pipelines.copybook.model import Field, RecordLayout, Usage
from pipelines.decoding.fields import kernels
from pipelines.decoding.fields.arrow_columns import (
    date_array,
    decimal_array,
    decimal_words_array,
    int_array,
)
from pipelines.decoding.fields.binary import decode_binary, decode_wide_binary
from pipelines.decoding.fields.codepages import is_ebcdic, space_byte
from pipelines.decoding.fields.display_numbers import DISPLAY_REASONS, decode_display_number
from pipelines.decoding.fields.floats import decode_float
from pipelines.decoding.fields.kernels import DATE_FORMATS
from pipelines.decoding.fields.numeric_nulls import no_value_mask
from pipelines.decoding.fields.packed import PACKED_REASONS, decode_packed
from pipelines.decoding.fields.text import decode_text, decode_text_columns
from pipelines.decoding.fields.zoned import ZONED_REASONS, decode_zoned
from pipelines.decoding.records.selector import KERNEL_CODES, Decoder, choose


@dataclass(frozen=True)
class DecodeOptions:
    """How to read a feed's fields beyond what the copybook says."""

    codepage: str = "cp273"
    dates: Mapping[str, str] = field(default_factory=dict)  # column → date format
    trim: str = "right"
    controls: str = "space"  # control bytes in text: "space" or "keep"
    # a text field of nothing but x'00' (low-values) is null rather than "" (Cobrix's
    # improved_null_detection); numeric fields follow their own rule (numeric_nulls.py)
    low_values_text_null: bool = False
    # DISPLAY numbers: "strict" (COBOL's rule: digits only, sign where the PIC says) or
    # "relaxed" (spaces and x'00' around the digits are ignored, as Cobrix reads them)
    display_numbers: str = "strict"
    float_format: str = "ibm"  # COMP-1/COMP-2: "ibm" hexadecimal float or "ieee" 754
    # Multisegment records: the field holding the segment id, and segment id → the
    # REDEFINES branch that applies; fields of the other branches are null.
    # "mainframe" (IBM overpunch, big-endian binary) or "gnucobol"/"microfocus" (rehosted
    # COBOL: ASCII overpunch p-y for negative digits, COMP-5 in native little-endian)
    dialect: str = "mainframe"
    debug: str = "none"  # add <field>_debug with the raw bytes: "none", "hex" or "raw"
    segment_field: str | None = None
    segment_map: Mapping[str, str] = field(default_factory=dict)
    # per-field code page: copybook field name (or output column) → code page, for extracts
    # that mix code pages, e.g. a cp037 field copied from a US system into a cp273 record
    field_codepages: Mapping[str, str] = field(default_factory=dict)
    # text as Arrow string views (the layout polars keeps, so it takes them without a
    # conversion); Parquet, CSV and Delta writers want plain strings, the default
    text_views: bool = False

    def codepage_for(self, f: Field) -> str:
        """The code page of field `f`: its override if it has one, else the file's."""
        if not self.field_codepages:
            return self.codepage
        return self.field_codepages.get(f.name, self.field_codepages.get(f.column, self.codepage))


@dataclass
class FieldFault:
    """Records (by mask) whose `field` did not decode, with a reason for each."""

    field: Field
    bad: np.ndarray
    reasons: np.ndarray  # object array of str, meaningful where `bad`


def fault_entries(faults: list[FieldFault], records: np.ndarray) -> dict[int, list[dict]]:
    """Row index → what did not decode in that row: field, offset, raw bytes, reason.
    Only rows with faults appear (usually few), so this stays off the hot path."""
    out: dict[int, list[dict]] = {}
    for f in faults:
        for i in np.flatnonzero(f.bad).tolist():
            raw = records[i, f.field.offset : f.field.offset + f.field.size]
            out.setdefault(i, []).append(
                {
                    "field": f.field.name,
                    "offset": f.field.offset,
                    "raw_hex": raw.tobytes().hex().upper(),
                    "reason": str(f.reasons[i]),
                }
            )
    return out


def _reasons(codes: np.ndarray, table: Mapping[int, str]) -> np.ndarray:
    lookup = np.array([""] + [table.get(i, "invalid value") for i in range(1, 8)], dtype=object)
    return lookup[codes.astype(np.int64)]


def _number_array(value: np.ndarray, valid: np.ndarray, f: Field) -> pa.Array:
    """Unscaled values → the Arrow type the PIC calls for: int64 for integers that fit,
    exact decimals otherwise (P scaling to the right multiplies out)."""
    pic = f.picture
    scale = pic.scale
    if scale < 0:
        factor = 10**-scale
        value = value.astype(object) * factor if pic.precision > 18 else value * factor
        scale = 0
    if scale == 0 and value.dtype != object and pic.precision <= 18:
        return int_array(value, valid)
    return decimal_array(value, valid, pic.precision, scale)


def _numpy_number(
    f: Field, block: np.ndarray, opts: DecodeOptions, ebcdic: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | str, np.ndarray]:
    """(values, bad mask, reasons, no-value mask) for fields the compiled kernel skips."""
    pic = f.picture
    n = block.shape[0]
    empty = no_value_mask(block, space_byte(opts.codepage_for(f)))
    decoder = choose(f, opts, compiled=False)
    if decoder is Decoder.PACKED:
        value, bad, codes = decode_packed(block, pic.signed)
        return value, bad, _reasons(codes, PACKED_REASONS), empty
    if decoder in (Decoder.BINARY, Decoder.WIDE_BINARY):
        little = f.usage is Usage.NATIVE_BINARY and opts.dialect != "mainframe"
        value = (
            decode_binary(block, pic.signed, little_endian=little)
            if decoder is Decoder.BINARY
            else decode_wide_binary(block[:, ::-1] if little else block, pic.signed)
        )
        none = np.zeros(n, dtype=bool)  # every bit pattern is a binary number
        return value, none, "", none
    if decoder is Decoder.GENERAL_DISPLAY:
        relaxed = opts.display_numbers == "relaxed"
        value, no_digits, bad, codes = decode_display_number(block, f, ebcdic, relaxed)
        return value, bad, _reasons(codes, DISPLAY_REASONS), empty | (no_digits & ~bad)
    value, bad, codes = decode_zoned(block, pic.signed, ebcdic=ebcdic)
    return value, bad, _reasons(codes, ZONED_REASONS), empty


def _numeric(
    f: Field, block: np.ndarray, opts: DecodeOptions
) -> tuple[pa.Array, FieldFault | None]:
    """A numeric field the compiled kernel does not take, with numpy (see kernels.py)."""
    pic = f.picture
    n = block.shape[0]
    ebcdic = is_ebcdic(opts.codepage_for(f))
    if choose(f, opts, compiled=False) is Decoder.FLOAT:
        values = decode_float(block, opts.float_format)
        arr = pa.array(values, type=pa.float32() if f.usage is Usage.FLOAT else pa.float64())
        return arr, None
    value, bad, reasons, empty = _numpy_number(f, block, opts, ebcdic)
    limit = _digit_limit(f)
    if limit and f.usage is Usage.BINARY and value.dtype != object:
        bad = (value >= limit) | (value <= -limit)
        reasons = f"binary value exceeds PIC {pic.text}"
    elif limit and f.usage is Usage.PACKED:
        over = ((value >= limit) | (value <= -limit)).astype(bool) & ~bad & ~empty
        if over.any():
            if isinstance(reasons, str):
                reasons = np.full(n, reasons, dtype=object)
            reasons = np.where(over, f"packed value exceeds PIC {pic.text}", reasons)
            bad = bad | over
    bad &= ~empty
    date_format = opts.dates.get(f.column)
    if date_format:
        days, zero, bad_date = kernels.dates(value.astype(np.int64), date_format)
        bad_date &= ~bad & ~empty
        reasons = np.where(bad_date, f"not a valid {date_format} date", reasons)
        bad |= bad_date
        valid = ~(bad | empty | zero)
        arr = date_array(np.where(valid, days, 0), valid)
    else:
        valid = ~(bad | empty)
        value = np.where(valid, value, 0)
        arr = _number_array(value, valid, f)
    if not bad.any():
        return arr, None
    if isinstance(reasons, str):  # one reason for every record (or none was computed)
        reasons = np.full(n, reasons, dtype=object)
    return arr, FieldFault(f, bad, reasons)


def _digit_limit(f: Field) -> int:
    """|value| must stay below this (0: any value the bytes hold is the field's)."""
    pic = f.picture
    if f.usage is Usage.BINARY and pic.digits <= 18:
        # COMP/BINARY hold at most the PIC's digits (COMP-5 the full binary range): a value
        # beyond them is not what the program stored, e.g. text bytes read as a number
        return 10**pic.digits
    if f.usage is Usage.PACKED and 2 * f.size - 1 > pic.digits:
        # an even digit count leaves a high-order pad nibble that COBOL keeps at zero: a
        # value beyond the PIC's digits is damage, and would not fit its decimal type
        return 10**pic.digits
    return 0


def _output_kind(f: Field, opts: DecodeOptions) -> int:
    pic = f.picture
    if opts.dates.get(f.column):
        return kernels.DATE
    return kernels.INT if pic.scale == 0 and pic.precision <= 18 else kernels.DECIMAL


def _state_reasons(f: Field, opts: DecodeOptions) -> np.ndarray:
    """Kernel state code → reason text, for field `f`."""
    table = PACKED_REASONS if f.usage is Usage.PACKED else ZONED_REASONS
    lookup = np.array([""] + [table.get(i, "invalid value") for i in range(1, 10)], dtype=object)
    usage = "binary" if f.usage is Usage.BINARY else "packed"
    lookup[kernels.BEYOND_PIC] = f"{usage} value exceeds PIC {f.picture.text}"
    lookup[kernels.BAD_DATE] = f"not a valid {opts.dates.get(f.column)} date"
    return lookup


def _compiled_numbers(
    records: np.ndarray, layout: RecordLayout, opts: DecodeOptions
) -> dict[int, tuple[pa.Array, FieldFault | None]]:
    """id(field) → (Arrow array, fault) for every numeric field the compiled kernel takes,
    all decoded in one pass over the records."""
    chosen = [(f, KERNEL_CODES[d]) for f in layout.fields if (d := choose(f, opts)) in KERNEL_CODES]
    if not chosen or len(records) == 0:
        return {}
    fields = [f for f, _ in chosen]
    out_kinds = np.array([_output_kind(f, opts) for f in fields], dtype=np.int8)
    ints, days, decimals, state, nulls, faults, rows = kernels.run(
        records,
        np.array([f.offset for f in fields], dtype=np.int64),
        np.array([f.size for f in fields], dtype=np.int64),
        np.array([k for _, k in chosen], dtype=np.int8),
        np.array([f.picture.signed for f in fields], dtype=np.bool_),
        space_byte(opts.codepage),
        np.array([_digit_limit(f) for f in fields], dtype=np.int64),
        np.array(
            [DATE_FORMATS.get(opts.dates.get(f.column, ""), -1) for f in fields], dtype=np.int64
        ),
        out_kinds,
    )
    out: dict[int, tuple[pa.Array, FieldFault | None]] = {}
    for i, f in enumerate(fields):
        valid = None if nulls[i] + faults[i] == 0 else state[i] == 0
        row = rows[i]
        if out_kinds[i] == kernels.INT:
            arr = int_array(ints[row], valid)
        elif out_kinds[i] == kernels.DATE:
            arr = date_array(days[row], valid)
        else:
            arr = decimal_words_array(decimals[row], valid, f.picture.precision, f.picture.scale)
        fault = None
        if faults[i]:
            bad = state[i] > 0
            fault = FieldFault(f, bad, _state_reasons(f, opts)[np.maximum(state[i], 0)])
        out[id(f)] = arr, fault
    return out


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
    compiled = _compiled_numbers(records, layout, opts)
    # Arrow's if_else has no string-view kernel: views come straight from the decoder only
    # when no null rule rewrites text columns afterwards, else by a cast at the end
    post_processed = (
        opts.low_values_text_null
        or bool(opts.segment_field and opts.segment_map)
        or any(f.depends_on for f in layout.fields)
    )
    direct_views = opts.text_views and not post_processed
    single_byte = [f for f in layout.fields if choose(f, opts) is Decoder.TEXT]
    texts = dict(
        zip(
            map(id, single_byte),  # names can repeat (OCCURS elements, groups)
            decode_text_columns(
                records,
                [(f.offset, f.size, opts.codepage_for(f)) for f in single_byte],
                opts.trim,
                opts.controls,
                direct_views,
            ),
            strict=True,
        )
    )
    for f in layout.fields:
        block = records[:, f.offset : f.offset + f.size]
        if f.picture.is_numeric:
            done = compiled.get(id(f))
            arr, fault = done if done is not None else _numeric(f, block, opts)
            if fault is not None:
                faults.append(fault)
        else:
            if choose(f, opts) is Decoder.NATIONAL:
                # PIC N: UTF-16 big-endian (CCSID 1200), two bytes a character
                arr = decode_text(block, "utf-16-be", opts.trim, "keep")
            else:
                arr = texts[id(f)]
            if opts.low_values_text_null:
                low = (block == 0).all(axis=1)
                if low.any():
                    arr = pc.if_else(pa.array(low), pa.nulls(len(arr), arr.type), arr)
        columns[f.column] = arr
        if opts.debug != "none":
            columns[f"{f.column}_debug"] = _debug_column(block, opts.debug)
    _null_unused_occurrences(layout, columns)
    if opts.segment_field and opts.segment_map:
        faults = _apply_segment_map(layout, columns, faults, opts)
    if opts.text_views and post_processed:
        for name, arr in columns.items():
            if arr.type == pa.string():
                columns[name] = arr.cast(pa.string_view())
    return pa.table(columns), faults


def _debug_column(block: np.ndarray, kind: str) -> pa.Array:
    """The field's raw bytes beside its value: upper-case hex text, or binary."""
    n, width = block.shape
    raw = np.ascontiguousarray(block).tobytes()
    if kind == "raw":
        fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(raw)])
        return fixed.cast(pa.binary())
    if kind != "hex":
        raise ValueError(f"unknown debug policy {kind!r}: none, hex or raw")
    text = raw.hex().upper().encode("ascii")
    offsets = np.arange(0, 2 * width * n + 1, 2 * width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))


def _null_unused_occurrences(layout: RecordLayout, columns: dict[str, pa.Array]) -> None:
    """OCCURS DEPENDING ON, fixed-maximum layout: elements past the counter are null."""
    for f in layout.fields:
        for counter, element, _ in f.depends_on:
            count = columns[layout.field(counter).column]
            keep = pc.fill_null(pc.greater_equal(count, element), False)
            columns[f.column] = pc.if_else(keep, columns[f.column], None)


def _apply_segment_map(
    layout: RecordLayout,
    columns: dict[str, pa.Array],
    faults: list[FieldFault],
    opts: DecodeOptions,
) -> list[FieldFault]:
    """Keep each REDEFINES branch only where the segment id selects it; faults in branches
    that do not apply are not faults (those bytes were never meant as that type)."""
    segment = columns[layout.field(opts.segment_field).column]
    if not pa.types.is_string(segment.type):
        segment = pc.cast(segment, pa.string())  # a numeric segment id (PIC 9) maps as text
    segment = pc.utf8_trim_whitespace(segment)
    applies: dict[str, np.ndarray] = {}
    for branch in set(opts.segment_map.values()):
        ids = pa.array([k for k, v in opts.segment_map.items() if v == branch])
        mask = pc.fill_null(pc.is_in(segment, value_set=ids), False)
        applies[branch] = mask.to_numpy(zero_copy_only=False)
    for f in layout.fields:
        if f.branch in applies:
            columns[f.column] = pc.if_else(applies[f.branch], columns[f.column], None)
    kept = []
    for fault in faults:
        if fault.field.branch in applies:
            fault.bad &= applies[fault.field.branch]
            if not fault.bad.any():
                continue
        kept.append(fault)
    return kept
