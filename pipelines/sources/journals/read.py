"""Journal receivers → one table of entries: DSPJRN header fields plus the decoded image.

Receivers may overlap (an MFT re-delivery, a receiver sent twice): entries are de-duplicated
by sequence number, and two receivers that disagree about the same sequence number are an
error, not a choice. An entry whose header does not decode cannot be skipped (a change
would be lost): it stops the journal with file, entry number and byte offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.copybook import parse_copybook
from pipelines.decoding.records import DecodeOptions, decode_chunk, fault_entries
from pipelines.demo.legacy_files import COPYBOOK_DIR
from pipelines.lake import Lake
from pipelines.sources.journals.feeds import JournalFeed

HEADER = ("joseqn", "jocode", "joentt", "jotstp", "jojob", "jouser", "jopgm", "joobj", "joccid")


class JournalError(ValueError):
    """A journal that cannot be applied as delivered (the message says where and why)."""


@dataclass
class Entries:
    table: pa.Table  # sorted by sequence, one row per sequence number
    files: list[str]


def _timestamp(text: str) -> datetime:
    """DSPJRN *TYPE5 timestamp 'YYYY-MM-DD-HH.MM.SS.ffffff' (journal time, UTC here)."""
    return datetime.strptime(text, "%Y-%m-%d-%H.%M.%S.%f").replace(tzinfo=UTC)


def receivers(lake: Lake, journal: JournalFeed) -> list[str]:
    fs, root = fsspec.core.url_to_fs(str(lake.legacy_landing / journal.folder))
    if not fs.exists(root):
        return []
    return sorted(fs.glob(f"{root}/{journal.file_glob}"))


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
    for path in files:
        with fsspec.open(path, "rb") as fh:
            data = fh.read()
        name = Path(path).name
        if len(data) % layout.size:
            whole = len(data) // layout.size
            raise JournalError(
                f"{name}: {len(data)} bytes is not a multiple of the entry length "
                f"{layout.size}; entry {whole + 1} at byte offset {whole * layout.size} is "
                "truncated"
            )
        records = np.frombuffer(data, dtype=np.uint8).reshape(-1, layout.size)
        header, faults = decode_chunk(records[:, : esd.offset], _header_only(layout), opts)
        errors = fault_entries(faults, records)
        if errors:
            i = min(errors)
            e = errors[i][0]
            raise JournalError(
                f"{name}: entry {i + 1} at byte offset {i * layout.size}: field {e['field']} "
                f"(bytes {e['raw_hex']}): {e['reason']}"
            )
        image, image_faults = decode_chunk(
            np.ascontiguousarray(records[:, esd.offset : esd.offset + esd.size]), image_layout, opts
        )
        image_errors = fault_entries(image_faults, records[:, esd.offset :])
        cols = {c: header.column(c) for c in HEADER}
        cols["source_file"] = pa.array([name] * len(records))
        cols["image_errors"] = pa.array(
            [str(image_errors[i]) if i in image_errors else None for i in range(len(records))],
            pa.string(),
        )
        tables.append(pa.table(cols | {c: image.column(c) for c in image.column_names}))
        raw_images.append(records[:, esd.offset :])
    if not tables:
        return Entries(pa.table({}), files)
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
    stamps = [_timestamp(t) for t in table.column("jotstp").to_pylist()]
    table = table.set_column(
        table.column_names.index("jotstp"), "jotstp", pa.array(stamps, pa.timestamp("us", "UTC"))
    )
    table = table.set_column(
        table.column_names.index("joentt"), "joentt", pc.utf8_trim_whitespace(table["joentt"])
    )
    return Entries(table, files)


def _header_only(layout):  # noqa: ANN001
    """The entry layout without its image (decoded separately, in the image's layout)."""
    from dataclasses import replace

    fields = [f for f in layout.fields if f.name != "JOESD"]
    return replace(layout, fields=fields, size=layout.field("JOESD").offset)
