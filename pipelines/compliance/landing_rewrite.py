"""Restrict a person in landing files as delivered: their fields are overwritten in place.

The extracts are kept as proof of delivery and for reprocessing, so they are not deleted;
the personal fields of the subject's records (customer master extracts and the images in
the customer-master journal) are overwritten with a keyed pseudonym in the file's code
page, padded with spaces to the field's width. Record lengths, keys, amounts and hash totals
stay as delivered; on local disk the file's size and modification time too, so the file log
does not take it for a new delivery (an object store sets a new time: the file is landed
again, pseudonymised, and the merge by key keeps one row per record).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipelines.compliance.pseudonyms import pseudonym
from pipelines.compliance.restrictions import PERSONAL_MASTER_COLUMNS
from pipelines.copybook import parse_copybook
from pipelines.copybook.model import RecordLayout
from pipelines.lake.paths import Lake


def _column_offsets(layout: RecordLayout, base: int) -> dict[str, tuple[int, int]]:
    return {f.column: (base + f.offset, f.size) for f in layout.fields}


def _rewrite(
    path: Path,
    record_length: int,
    key_at: tuple[int, int],
    customers: set[int],
    fields: dict[str, tuple[int, int]],
    codepage: str,
    key: bytes,
) -> bool:
    """Overwrite the fields of records whose (zoned decimal) customer number matches."""
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8).copy()
    if len(data) % record_length:
        return False  # not a fixed-length file of this layout: left to the landing checks
    records = data.reshape(-1, record_length)
    start, size = key_at
    keys = {f"{c:0{size}d}".encode(codepage) for c in customers}
    raw = records[:, start : start + size]
    hits = [i for i in range(len(records)) if raw[i].tobytes() in keys]
    if not hits:
        return False
    changed = False
    for i in hits:
        for offset, width in fields.values():
            current = records[i, offset : offset + width].tobytes()
            clear = current.decode(codepage, errors="replace").strip(" \x00")
            if clear and not clear.startswith("p_"):  # not blank, not restricted already
                changed = True
                token = (pseudonym(key, clear) or "")[:width].ljust(width)
                records[i, offset : offset + width] = np.frombuffer(
                    token.encode(codepage), dtype=np.uint8
                )
    if not changed:
        return False
    if not isinstance(path, Path):  # an object store: one PUT replaces the object
        path.write_bytes(records.tobytes())
        return True
    stat = path.stat()
    tmp = path.with_suffix(path.suffix + ".rewrite")
    records.tofile(tmp)
    os.replace(tmp, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return True


def rewrite_customer_records(lake: Lake, customers: set[int], key: bytes) -> list[str]:
    """Every landing file holding the customers' master data; returns the files changed."""
    from pipelines.sources.journals.feeds import JOURNALS
    from pipelines.sources.legacy.feeds import feed_by_name

    feed = feed_by_name("customers")
    copybooks = lake.copybooks
    layouts = parse_copybook((copybooks / feed.copybook).read_text())
    master = layouts[feed.detail_record]
    personal = {
        c: span for c, span in _column_offsets(master, 0).items() if c in PERSONAL_MASTER_COLUMNS
    }
    key_at = _column_offsets(master, 0)["cm_cust_no"]
    changed: list[str] = []
    for path in sorted((lake.legacy_landing / feed.folder).glob(feed.file_glob)):
        if _rewrite(path, master.size, key_at, customers, personal, feed.codepage, key):
            changed.append(str(path.relative_to(lake.data)))
    for journal in JOURNALS:
        if journal.image_feed != "customers":
            continue
        from pipelines.sources.journals.read import COPYBOOK_DIR

        entry = parse_copybook((COPYBOOK_DIR / journal.copybook).read_text())[journal.entry_record]
        image_at = next(f.offset for f in entry.fields if f.column == "joesd")
        fields = {c: (image_at + o, n) for c, (o, n) in personal.items()}
        jkey = (image_at + key_at[0], key_at[1])
        for path in sorted((lake.legacy_landing / journal.folder).glob(journal.file_glob)):
            if _rewrite(path, entry.size, jkey, customers, fields, feed.codepage, key):
                changed.append(str(path.relative_to(lake.data)))
    return changed
