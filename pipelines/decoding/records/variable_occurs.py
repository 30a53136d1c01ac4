"""OCCURS DEPENDING ON with variable-size occurs ("shift record"): fields after an array
start right after its last present element, so each record has its own length.

Such records are walked one at a time along the copybook tree, reading each counter as it
passes, and copied into the fixed-maximum layout. The result goes through the same
vectorised decoders (absent elements become null and are left out of nested output).
This per-record walk is Python: correct first; variable-size ODO is rare in extracts.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from pipelines.copybook.model import RecordLayout, Usage
from pipelines.copybook.picture import storage_size
from pipelines.decoding.records.framing import FramingError


def _elementary_size(item: object) -> int:
    usage = item.usage or Usage.DISPLAY
    return storage_size(item.picture, usage, item.sign_separate)


@cache
def _one_size(item: object) -> int:
    """Bytes of one occurrence in the fixed-maximum layout."""
    if not item.children:
        return _elementary_size(item)
    pos = end = 0
    starts: dict[str, int] = {}
    for child in item.children:
        at = starts[child.redefines] if child.redefines else pos
        starts[child.name] = at
        size = _one_size(child) * child.occurs
        pos = at + size if not child.redefines else max(pos, at + size)
        end = max(end, at + size)
    return end


def _counter_value(raw: bytes, item: object) -> int:
    usage = item.usage or Usage.DISPLAY
    if usage in (Usage.BINARY, Usage.NATIVE_BINARY):
        return int.from_bytes(raw, "big", signed=False)
    if usage is Usage.PACKED:
        return int(raw.hex()[:-1] or "0")
    return int("".join(str(b & 0x0F) for b in raw) or "0")


def _expand(
    item: object,
    src: bytes,
    spos: int,
    dst: bytearray,
    dpos: int,
    counters: dict[str, int],
    watched: set[str],
) -> int:
    present = item.occurs
    if item.depending_on:
        present = min(counters.get(item.depending_on, 0), item.occurs)
    size = _one_size(item)
    for n in range(present):
        spos = _expand_one(item, src, spos, dst, dpos + n * size, counters, watched)
    return spos


def _expand_one(
    item: object,
    src: bytes,
    spos: int,
    dst: bytearray,
    dpos: int,
    counters: dict[str, int],
    watched: set[str],
) -> int:
    if not item.children:
        size = _elementary_size(item)
        if spos + size > len(src):
            raise FramingError(f"record ends inside {item.name} at byte {spos}")
        raw = src[spos : spos + size]
        dst[dpos : dpos + size] = raw
        if item.name in watched:
            counters[item.name] = _counter_value(raw, item)
        return spos + size
    rel = 0
    starts: dict[str, int] = {}
    for child in item.children:
        if child.redefines:
            continue  # an alternative view of bytes already copied
        starts[child.name] = rel
        spos = _expand(child, src, spos, dst, dpos + rel, counters, watched)
        rel += _one_size(child) * child.occurs
    return spos


def _counters(item: object) -> set[str]:
    found = {item.depending_on} if item.depending_on else set()
    for child in item.children:
        found |= _counters(child)
    return found


def _synchronized(item: object) -> object | None:
    """The first SYNC item that would move (binary or floating), if any."""
    usage = item.usage or Usage.DISPLAY
    movable = (Usage.BINARY, Usage.NATIVE_BINARY, Usage.FLOAT, Usage.DOUBLE)
    if getattr(item, "sync", False) and not item.children and usage in movable:
        return item
    return next((s for c in item.children if (s := _synchronized(c)) is not None), None)


def split_variable_records(
    data: bytes, layout: RecordLayout, start: int = 0, end: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(fixed-maximum records matrix, byte offset of each record) for back-to-back records
    whose length follows from their counters."""
    end = len(data) if end is None else end
    synced = _synchronized(layout.tree)
    if synced is not None:
        raise FramingError(
            f"line {synced.line}: {synced.name} is SYNCHRONIZED; variable-size OCCURS "
            "with slack bytes is not supported (decode with the fixed-maximum layout)"
        )
    watched = _counters(layout.tree)
    rows: list[bytes] = []
    offsets: list[int] = []
    pos = start
    while pos < end:
        dst = bytearray(layout.size)
        try:
            nxt = _expand_one(layout.tree, data[:end], pos, dst, 0, {}, watched)
        except FramingError as exc:
            raise FramingError(f"record {len(rows) + 1} at byte offset {pos}: {exc}") from exc
        rows.append(bytes(dst))
        offsets.append(pos)
        pos = nxt
    matrix = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), layout.size)
    return matrix, np.array(offsets, dtype=np.int64)
