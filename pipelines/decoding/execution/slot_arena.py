"""Decoded columns written straight into a shared-memory slot, and read back in place.

A worker's kernels allocate their output buffers (string views and offsets, integers, day
numbers, decimal words) with `output_array`; inside `SlotArena.allocating()` those come
from the slot file the parent will read, so the decoded values are written once, where
they are consumed. Serialising the finished table into the slot instead (Arrow IPC) read
and wrote every decoded byte a second time: with two workers, memory traffic is what
they compete for. Buffers made elsewhere (validity bitmaps, the few Arrow compute
results) are copied in; what crosses the pipe is only a small manifest of offsets.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

_ALIGN = 64  # Arrow's recommended buffer alignment (and a cache line)
_current: ContextVar[SlotArena | None] = ContextVar("slot_arena", default=None)


def output_array(shape: int | tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    """An uninitialised array for a decoded column's values: in the active slot, if any."""
    arena = _current.get()
    return np.empty(shape, dtype) if arena is None else arena.empty(shape, dtype)


# an exported Arrow array: (length, null count, offset, its buffers' (file offset, size))
Chunk = tuple[int, int, int, tuple[tuple[int, int] | None, ...]]


def give_back_tail(array: np.ndarray, keep: int) -> np.ndarray:
    """The first `keep` bytes of the 1-D byte array `array`, the newest allocation in the
    active slot, whose rest the slot takes back (without a slot: just the slice)."""
    arena = _current.get()
    if arena is not None:
        arena.give_back(array, keep)
    return array[:keep]


@dataclass(frozen=True)
class TableManifest:
    """Where a table's buffers are in a slot: plain tuples and the schema's IPC bytes, so
    the parent unpickles it in microseconds (and parses each distinct schema once)."""

    schema: bytes
    columns: tuple[tuple[Chunk, ...], ...]

    @property
    def nbytes(self) -> int:
        """How far into the slot the buffers reach."""
        ends = [b[0] + b[1] for col in self.columns for c in col for b in c[3] if b]
        return max(ends, default=0)


@functools.lru_cache(maxsize=16)
def _schema(serialized: bytes) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(serialized))


class SlotArena:
    """Bump allocation in one slot file; grows the file (a new, larger mapping) when a
    split needs more room, and keeps its pages between splits so reuse costs no faults."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._maps: list[tuple[mmap.mmap, int]] = []  # (mapping, base address), newest last
        self._cursor = 0

    def reset(self) -> None:
        """Start a new split at the front of the file (the parent has let the last go)."""
        self._maps = self._maps[-1:]
        self._cursor = 0

    @property
    def used(self) -> int:
        """Bytes of the slot taken by this split so far."""
        return self._cursor

    def _room(self, end: int) -> mmap.mmap:
        if self._maps and len(self._maps[-1][0]) >= end:
            return self._maps[-1][0]
        size = max(end + (end >> 2), 1 << 20, 2 * len(self._maps[-1][0]) if self._maps else 0)
        fd = os.open(self.path, os.O_RDWR)
        try:
            size = max(size, os.fstat(fd).st_size)
            os.ftruncate(fd, size)
            mapping = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
        self._maps.append((mapping, base))  # older mappings live on in their arrays
        return mapping

    def empty(self, shape: int | tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        count = int(np.prod(shape))
        start = -(-self._cursor // _ALIGN) * _ALIGN
        mapping = self._room(start + count * dtype.itemsize)
        self._cursor = start + count * dtype.itemsize
        flat = np.frombuffer(mapping, dtype=dtype, count=count, offset=start)
        return flat.reshape(shape)

    def give_back(self, array: np.ndarray, keep: int) -> None:
        """Shrink the newest allocation to its first `keep` bytes (others stay as they are)."""
        mapping, base = self._maps[-1]
        start = array.ctypes.data - base
        inside = start >= 0 and start + array.nbytes <= len(mapping)
        if inside and start + array.nbytes == self._cursor:
            self._cursor = start + keep

    def _place(self, buf: pa.Buffer) -> tuple[int, int]:
        """The buffer's (file offset, size), copying it into the slot if it lies elsewhere."""
        for mapping, base in self._maps:
            if base <= buf.address and buf.address + buf.size <= base + len(mapping):
                return buf.address - base, buf.size
        target = self.empty(buf.size, np.uint8)
        target[:] = np.frombuffer(buf, dtype=np.uint8)
        return target.ctypes.data - self._maps[-1][1], buf.size

    def export(self, table: pa.Table) -> TableManifest:
        """Per column, per chunk: where its buffers are in the slot."""
        columns = []
        for column in table.columns:
            if pa.types.is_nested(column.type) or pa.types.is_dictionary(column.type):
                raise TypeError(f"decoded column of type {column.type} cannot be exported")
            columns.append(
                tuple(
                    (
                        len(chunk),
                        chunk.null_count,
                        chunk.offset,
                        tuple(None if b is None else self._place(b) for b in chunk.buffers()),
                    )
                    for chunk in column.chunks
                )
            )
        return TableManifest(table.schema.serialize().to_pybytes(), tuple(columns))

    @contextlib.contextmanager
    def allocating(self) -> Iterator[SlotArena]:
        """Within this block, `output_array` allocates in this slot."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


def read_table(view: np.ndarray, manifest: TableManifest) -> pa.Table:
    """The table a worker exported, on the parent's mapping `view` of the slot, zero-copy:
    every buffer keeps `view` alive."""
    schema = _schema(manifest.schema)

    def array(field: pa.Field, chunk: Chunk) -> pa.Array:
        length, nulls, offset, buffers = chunk
        parts = [None if b is None else pa.py_buffer(view[b[0] : b[0] + b[1]]) for b in buffers]
        return pa.Array.from_buffers(field.type, length, parts, nulls, offset)

    if all(len(chunks) == 1 for chunks in manifest.columns):
        arrays = [array(f, chunks[0]) for f, chunks in zip(schema, manifest.columns, strict=True)]
        return pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, schema=schema)])
    columns = [
        pa.chunked_array([array(f, c) for c in chunks], type=f.type)
        for f, chunks in zip(schema, manifest.columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=schema)
