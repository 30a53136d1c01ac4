"""Decode a file on several cores: long-lived worker processes (spawn), each taking a
(file, byte range) split on record boundaries (splits.py), any record format.

The split is the unit of work so the same function can run on a distributed engine later.
Workers decode straight into a ring of shared-memory slots that both sides keep mapped
(slot_arena.py), so the decoded columns cross the process boundary without pickling or
copying and, after a slot's first use, without page faults; results come back in file
order, with a few splits per worker in flight so memory stays bounded for files of any
size.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import pickle
import tempfile
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.execution.decode_file import DecodedBatch, check_strict, decode_records
from pipelines.decoding.execution.reader import BLOCK_BYTES, read_records
from pipelines.decoding.execution.slot_arena import SlotArena, TableManifest, read_table
from pipelines.decoding.execution.splits import SPLIT_BYTES, Split, plan_splits
from pipelines.decoding.execution.workers import InOrder, WorkerProcesses
from pipelines.decoding.records.decode import DecodeOptions
from pipelines.decoding.records.framing import Framing

IN_FLIGHT_PER_WORKER = 4


@dataclass(frozen=True)
class SplitResult:
    slot: str  # the shared-memory slot holding the split's decoded buffers
    manifest: TableManifest  # where each column's buffers are in the slot
    errors: dict[int, list[dict]]
    error_offsets: dict[int, int]
    first_record: int
    end_offset: int


def _scratch_dir() -> str:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


# worker side: slot path → its arena; lives as long as the worker process, so a slot's
# pages, once touched, are reused by every later split written into it
_worker_arenas: dict[str, SlotArena] = {}


def _job(layout: RecordLayout, opts: DecodeOptions, framing: Framing) -> bytes:
    """What every split of a file shares, pickled once per file instead of once per split."""
    return pickle.dumps((layout, opts, framing), protocol=pickle.HIGHEST_PROTOCOL)


@functools.lru_cache(maxsize=8)
def _unpickled(job: bytes) -> tuple[RecordLayout, DecodeOptions, Framing]:
    return pickle.loads(job)


def decode_split(split: Split, job: bytes, views: bool, slot: str) -> SplitResult:
    """One split, decoded straight into the shared-memory `slot` (runs in a worker).

    The kernels write their output buffers into the slot (slot_arena.py), the parent
    reads them in place: the decoded columns are neither pickled nor copied through a
    pipe; only their offsets and the (few) error entries are pickled."""
    layout, opts, framing = _unpickled(job)
    if views:  # text as string views: the parent's polars takes them without converting
        opts = replace(opts, text_views=True)
    arena = _worker_arenas.get(slot)
    if arena is None:
        arena = _worker_arenas[slot] = SlotArena(slot)
    arena.reset()
    with arena.allocating():
        batch = _decode_here(split, layout, opts, framing)
        manifest = arena.export(batch.table)
    return SplitResult(
        slot,
        manifest,
        batch.errors,
        batch.error_offsets,
        split.first_record,
        split.end,
    )


class _SlotRing:
    """The parent's shared-memory slots: handed to workers when free, read in place.

    A slot is free again once nothing refers to the table read from it — the consumer may
    keep a batch as long as it likes; the ring then grows by another slot."""

    def __init__(self) -> None:
        self._free: deque[str] = deque()
        self.files: list[str] = []
        self._maps: dict[str, mmap.mmap] = {}

    def acquire(self) -> str:
        if self._free:
            return self._free.popleft()
        fd, path = tempfile.mkstemp(prefix="ledgerbridge-", suffix=".arrow", dir=_scratch_dir())
        os.close(fd)
        self.files.append(path)
        return path

    def release(self, path: str) -> None:
        self._free.append(path)

    def read(self, result: SplitResult) -> pa.Table:
        """The split's table in its slot, zero-copy; the slot is released when it is let go."""
        path, nbytes = result.slot, result.manifest.nbytes
        mapping = self._maps.get(path)
        if mapping is None or len(mapping) < nbytes:
            with open(path, "rb") as fh:
                mapping = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            self._maps[path] = mapping  # an older, smaller mapping lives on in its views
        view = np.frombuffer(mapping, dtype=np.uint8, count=nbytes)
        # every Arrow buffer read below keeps `view` alive; when the last goes, so does it
        weakref.finalize(view, self.release, path)
        return read_table(view, result.manifest)

    def close(self) -> None:
        """Remove the slot files (mappings still in use stay valid until let go)."""
        for path in self.files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.files.clear()
        self._free.clear()
        self._maps.clear()


@dataclass(frozen=True)
class DeltaSplitResult:
    action: object  # deltalake AddAction
    schema: pa.Schema
    rows: int
    errors: dict[int, list[dict]]
    first_record: int


def decode_split_to_delta(split: Split, job: bytes, table_uri: str) -> DeltaSplitResult:
    """One split → one uncommitted Parquet data file of the Delta table (runs in a worker)."""
    from pipelines.decoding.output.delta_sink import write_data_file  # deltalake: only when used

    layout, opts, framing = _unpickled(job)
    batch = _decode_here(split, layout, opts, framing)
    action = write_data_file(batch.table, table_uri, split.first_record)
    return DeltaSplitResult(
        action, batch.table.schema, batch.table.num_rows, batch.errors, split.first_record
    )


def _decode_here(
    split: Split, layout: RecordLayout, opts: DecodeOptions, framing: Framing
) -> DecodedBatch:
    """A split decoded in this process, as one batch (what a worker would hand back)."""
    span = (split.start, split.end, split.first_record)
    # the whole split as one chunk where it fits a block of its own size: one Arrow
    # chunk per column, so a consumer (polars) takes the columns without re-chunking
    block = max(BLOCK_BYTES, split.end - split.start)
    batches = [
        decode_records(chunk, layout, opts)
        for chunk in read_records(split.url, framing, layout.size, block, span=span)
    ]
    errors: dict[int, list[dict]] = {}
    offsets: dict[int, int] = {}
    rows = 0
    for b in batches:
        errors.update((rows + i, e) for i, e in b.errors.items())
        offsets.update((rows + i, o) for i, o in b.error_offsets.items())
        rows += b.table.num_rows
    table = pa.concat_tables(b.table for b in batches)
    return DecodedBatch(table, errors, split.first_record, split.end, offsets)


class DecoderPool:
    """Worker processes that stay up between files (start-up is paid once).

    `parent_decodes=True` counts the calling process as one of the `workers`: it decodes
    every n-th split itself (no IPC for those) while the others are in flight, instead of
    idling between the batches it consumes. That is the better use of the cores when the
    consumer is light (building DataFrames); with a heavy consumer (writing Parquet) keep
    the default and let the parent consume only."""

    def __init__(self, workers: int = 2, parent_decodes: bool = False) -> None:
        self.workers = workers
        self.parent_decodes = parent_decodes
        processes = workers - 1 if parent_decodes else workers
        self._processes = WorkerProcesses(processes) if processes > 0 else None
        self._ring = _SlotRing()

    def decode(
        self,
        url: str,
        layout: RecordLayout,
        opts: DecodeOptions,
        framing: Framing,
        strict: bool = False,
        split_bytes: int = SPLIT_BYTES,
        views: bool = False,
    ) -> Iterator[DecodedBatch]:
        """The file's batches in file order, as `decode_file` yields them (one per split).

        `views=True` gives text columns as string views (for polars consumers)."""
        splits = plan_splits(url, framing, layout.size, split_bytes, self.workers)
        window: deque[Split | str] = deque()  # the parent's own split, or a worker's slot
        calls = InOrder(self._processes) if self._processes else None
        job = _job(layout, opts, framing)
        local_opts = replace(opts, text_views=True) if views else opts

        def take() -> DecodedBatch:
            head = window.popleft()
            if isinstance(head, Split):  # the parent's own share
                batch = _decode_here(head, layout, local_opts, framing)
            else:
                try:
                    result: SplitResult = calls.take()  # type: ignore[union-attr]
                except BaseException:
                    self._ring.release(head)
                    raise
                batch = DecodedBatch(
                    self._ring.read(result),
                    result.errors,
                    result.first_record,
                    result.end_offset,
                    result.error_offsets,
                )
            if strict:
                check_strict(url, batch)
            return batch

        try:
            for n, split in enumerate(splits):
                if calls is None or (self.parent_decodes and n % self.workers == 0):
                    window.append(split)
                else:
                    slot = self._ring.acquire()
                    window.append(slot)
                    calls.submit(decode_split, split, job, views, slot)
                if len(window) < self.workers * IN_FLIGHT_PER_WORKER:
                    continue
                yield take()
            while window:
                yield take()
        finally:
            # a consumer that stops early (or a fault) hands the unread splits' slots back,
            # once the workers writing into them are done
            if calls is not None:
                calls.drain()
            for head in window:
                if not isinstance(head, Split):
                    self._ring.release(head)

    def decode_to_delta(
        self,
        url: str,
        layout: RecordLayout,
        opts: DecodeOptions,
        framing: Framing,
        table_uri: str,
        mode: str = "append",
        split_bytes: int = SPLIT_BYTES,
    ) -> tuple[int, dict[int, list[dict]]]:
        """Decode the file into the Delta table at `table_uri` in one commit; returns
        (rows written, record number → error entries of the values that did not decode)."""
        from pipelines.decoding.output.delta_sink import commit

        splits = list(plan_splits(url, framing, layout.size, split_bytes, self.workers))
        job = _job(layout, opts, framing)
        if self._processes is None:
            results = [decode_split_to_delta(s, job, table_uri) for s in splits]
        else:
            calls = InOrder(self._processes)
            try:
                for s in splits:
                    calls.submit(decode_split_to_delta, s, job, table_uri)
                results = [calls.take() for _ in splits]
            finally:
                calls.drain()
        if not results:
            return 0, {}
        commit(table_uri, results[0].schema, [r.action for r in results], mode)
        errors = {
            r.first_record + row: entries for r in results for row, entries in r.errors.items()
        }
        return sum(r.rows for r in results), errors

    def slot_files(self) -> list[str]:
        """The shared-memory files of the result ring (removed by `close`)."""
        return list(self._ring.files)

    def peak_rss(self) -> int:
        """The largest peak resident size (bytes) of the live workers (Linux; else 0)."""
        peak = 0
        for pid in [p.pid for p in self._processes.processes] if self._processes else []:
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) * 1024)
            except OSError:
                continue
        return peak

    def close(self) -> None:
        if self._processes is not None:
            self._processes.close()
        self._ring.close()

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
