"""Journal receivers → one table of entries: DSPJRN header fields plus the decoded image.

Receivers may overlap (an MFT re-delivery, a receiver sent twice): entries are de-duplicated
by sequence number, and two receivers that disagree about the same sequence number are an
error, not a choice. An entry whose header does not decode cannot be skipped (a change
would be lost): it stops the journal with file, entry number and byte offset.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.copybook import parse_copybook
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk, fault_entries
from pipelines.embedded.demo.legacy_files import COPYBOOK_DIR
from pipelines.lake.paths import Lake
from pipelines.sources.journals.feeds import JournalFeed

HEADER = ("joseqn", "jocode", "joentt", "jotstp", "jojob", "jouser", "jopgm", "joobj", "joccid")
# per entry, beside header and image: where it came from and whether its image decoded
ENTRY_META = ("source_file", "entry_number", "image_errors", "quarantine_reason", "raw_entry_hex")


class JournalError(ValueError):
    """A journal that cannot be applied as delivered (the message says where and why)."""


@dataclass
class Entries:
    table: pa.Table  # sorted by sequence, one row per sequence number
    files: list[str]
    # receivers not applied at all, with the reason (e.g. entries for another object)
    rejected: dict[str, str] = field(default_factory=dict)
    entries_per_file: dict[str, int] = field(default_factory=dict)
    # receiver → `size:crc32` of its bytes: a new copy of a refused receiver is told apart
    fingerprints: dict[str, str] = field(default_factory=dict)


_STAMP = r"^(\d{4}-\d{2}-\d{2})-(\d{2})\.(\d{2})\.(\d{2})\.(\d{6})$"


def _timestamps(text: pa.ChunkedArray, table: pa.Table) -> pa.Array:
    """DSPJRN *TYPE5 timestamps 'YYYY-MM-DD-HH.MM.SS.ffffff' (journal time, taken as UTC),
    converted a column at a time; one that is malformed is named with its sequence."""
    ok = pc.match_substring_regex(text, _STAMP)
    if not pc.all(ok).as_py():
        i = pc.index(ok, False).as_py()
        raise JournalError(
            f"{table['source_file'][i]}: sequence {table['joseqn'][i]}: JOTSTP "
            f"{text[i].as_py()!r} is not a DSPJRN timestamp (YYYY-MM-DD-HH.MM.SS.ffffff)"
        )
    iso = pc.replace_substring_regex(text, _STAMP, r"\1T\2:\3:\4.\5")
    return pc.cast(pc.cast(iso, pa.timestamp("us")), pa.timestamp("us", "UTC"))


def receivers(lake: Lake, journal: JournalFeed) -> list[str]:
    """The receivers' URLs, in name order (the order of the journal's receiver chain)."""
    fs, root = fsspec.core.url_to_fs(str(lake.legacy_landing / journal.folder))
    if not fs.exists(root):
        return []
    return [fs.unstrip_protocol(p) for p in sorted(fs.glob(f"{root}/{journal.file_glob}"))]


def read_entries(lake: Lake, journal: JournalFeed) -> Entries:
    layout = parse_copybook((COPYBOOK_DIR / journal.copybook).read_text())[journal.entry_record]
    image_feed = journal.image
    image_layout = parse_copybook((COPYBOOK_DIR / image_feed.copybook).read_text())[
        image_feed.detail_record
    ]
    esd = layout.field("JOESD")
    opts = DecodeOptions(codepage=image_feed.codepage, dates=image_feed.dates)
    tables: list[pa.Table] = []
    raw_images: list[np.ndarray] = []
    files = receivers(lake, journal)
    rejected: dict[str, str] = {}
    per_file: dict[str, int] = {}
    prints: dict[str, str] = {}
    required = set(image_feed.required)
    for path in files:
        with fsspec.open(path, "rb") as fh:
            data = fh.read()
        name = Path(path).name
        prints[name] = f"{len(data)}:{zlib.crc32(data):08x}"
        # a receiver that is empty, cut short or not a journal is refused whole, named with
        # where and why; the other receivers go on (the journal then waits at the gap its
        # entries leave, until a good copy of the receiver arrives)
        if not data:
            rejected[name] = f"{name}: empty (0 bytes): no entry to apply"
            per_file[name] = 0
            continue
        if len(data) % layout.size:
            whole = len(data) // layout.size
            rejected[name] = (
                f"{name}: {len(data)} bytes is not a multiple of the entry length "
                f"{layout.size}; entry {whole + 1} at byte offset {whole * layout.size} is "
                "truncated"
            )
            per_file[name] = whole
            continue
        records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
        header, faults = decode_chunk(records[:, : esd.offset], _header_only(layout), opts)
        errors = fault_entries(faults, records)
        if errors:
            i = min(errors)
            e = errors[i][0]
            rejected[name] = (
                f"{name}: entry {i + 1} at byte offset {i * layout.size}: field {e['field']} "
                f"(bytes {e['raw_hex']}): {e['reason']}"
            )
            per_file[name] = len(records)
            continue
        per_file[name] = len(records)
        objects = set(pc.utf8_trim_whitespace(header["joobj"]).to_pylist())
        foreign = sorted(objects - {journal.object_name})
        if foreign:
            rejected[name] = (
                f"{name}: entries for object(s) {', '.join(foreign)}; the {journal.name} "
                f"journal applies {journal.object_name} only"
            )
            continue
        # only record entries (JOCODE R) carry an image; commitment-control entries do not
        has_image = np.flatnonzero(pc.equal(header["jocode"], "R").to_numpy(zero_copy_only=False))
        images = np.ascontiguousarray(records[has_image, esd.offset : esd.offset + esd.size])
        image, image_faults = decode_chunk(images, image_layout, opts)
        errors_by_row: list[str | None] = [None] * len(records)
        quarantine: list[str | None] = [None] * len(records)
        raw_hex: list[str | None] = [None] * len(records)
        for i, entries in fault_entries(image_faults, images).items():
            row = int(has_image[i])
            errors_by_row[row] = json.dumps(entries)
            bad = [e for e in entries if e["field"].lower().replace("-", "_") in required]
            if bad:  # a required field (key, amount) did not decode: never applied with nulls
                quarantine[row] = "; ".join(f"{e['field']}: {e['reason']}" for e in bad)
                raw_hex[row] = records[row].tobytes().hex().upper()
        where = np.full(len(records), -1, dtype=np.int64)
        where[has_image] = np.arange(len(has_image))
        spread = pa.array(where, mask=where < 0)  # null: no image in this entry
        cols = {c: header.column(c) for c in HEADER}
        cols["source_file"] = pa.array([name] * len(records))
        cols["entry_number"] = pa.array(np.arange(1, len(records) + 1), pa.int64())
        cols["image_errors"] = pa.array(errors_by_row, pa.string())
        cols["quarantine_reason"] = pa.array(quarantine, pa.string())
        cols["raw_entry_hex"] = pa.array(raw_hex, pa.string())
        tables.append(
            pa.table(cols | {c: image.column(c).take(spread) for c in image.column_names})
        )
        raw_images.append(records[:, esd.offset :])
    if not tables:
        return Entries(pa.table({}), files, rejected, per_file, prints)
    table = pa.concat_tables(tables)
    raw = np.concatenate(raw_images)
    order = np.argsort(table.column("joseqn").to_numpy(), kind="stable")
    table = table.take(pa.array(order))
    raw = raw[order]
    seq = table.column("joseqn").to_numpy()
    repeat = np.flatnonzero(seq[1:] == seq[:-1]) + 1
    for i in repeat:  # the same entry delivered twice must be the same entry
        if not np.array_equal(raw[i], raw[i - 1]) or (
            table.column("joentt")[i] != table.column("joentt")[i - 1]
        ):
            raise JournalError(
                f"sequence {seq[i]} differs between {table.column('source_file')[i - 1]} "
                f"and {table.column('source_file')[i]}"
            )
    keep = np.ones(len(seq), dtype=bool)
    keep[repeat] = False
    table = table.filter(pa.array(keep))
    table = table.set_column(
        table.column_names.index("jotstp"), "jotstp", _timestamps(table["jotstp"], table)
    )
    table = table.set_column(
        table.column_names.index("joentt"), "joentt", pc.utf8_trim_whitespace(table["joentt"])
    )
    return Entries(table, files, rejected, per_file, prints)


def _header_only(layout):  # noqa: ANN001
    """The entry layout without its image (decoded separately, in the image's layout)."""
    from dataclasses import replace

    fields = [f for f in layout.fields if f.name != "JOESD"]
    return replace(layout, fields=fields, size=layout.field("JOESD").offset)
