"""Decode a file on several cores: long-lived worker processes (spawn), each taking a
(file, byte range) split on record boundaries (splits.py), any record format.

The split is the unit of work so the same function can run on a distributed engine later.
Workers write Arrow IPC files to shared memory, which the parent maps without copying;
results come back in file order, with at most two splits per worker in flight so memory
stays bounded for files of any size.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.decode_file import DecodedBatch, check_strict, decode_records
from pipelines.decoding.framing import Framing
from pipelines.decoding.memory import reuse_freed_memory
from pipelines.decoding.reader import read_records
from pipelines.decoding.records import DecodeOptions
from pipelines.decoding.splits import SPLIT_BYTES, Split, plan_splits

IN_FLIGHT_PER_WORKER = 4


@dataclass(frozen=True)
class SplitResult:
    path: str  # Arrow IPC file in shared memory
    errors: dict[int, list[dict]]
    error_offsets: dict[int, int]
    first_record: int
    end_offset: int


def _scratch_dir() -> str:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _unlink(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def decode_split(
    split: Split,
    layout: RecordLayout,
    opts: DecodeOptions,
    framing: Framing,
    views: bool,
    consumed: list[str] | None = None,
) -> SplitResult:
    """One split → an Arrow IPC file in shared memory (runs in a worker).

    The parent memory-maps it: the decoded columns cross the process boundary without
    being pickled or copied through a pipe; only the (few) error entries are pickled.
    `consumed` are earlier results the parent has handed on: the worker unlinks them, so
    freeing their pages is the workers' (parallel) work, not the parent's. A consumer still
    holding one keeps its mapping; the pages go when it lets go."""
    _unlink(consumed or [])
    if views:  # text as string views: the parent's polars takes them without converting
        opts = replace(opts, text_views=True)
    batch = _decode_here(split, layout, opts, framing)
    fd, path = tempfile.mkstemp(prefix="ledgerbridge-", suffix=".arrow", dir=_scratch_dir())
    os.close(fd)
    with pa.ipc.new_file(path, batch.table.schema) as writer:
        writer.write_table(batch.table)
    return SplitResult(path, batch.errors, batch.error_offsets, split.first_record, split.end)


@dataclass(frozen=True)
class DeltaSplitResult:
    action: object  # deltalake AddAction
    schema: pa.Schema
    rows: int
    errors: dict[int, list[dict]]
    first_record: int


def decode_split_to_delta(
    split: Split, layout: RecordLayout, opts: DecodeOptions, framing: Framing, table_uri: str
) -> DeltaSplitResult:
    """One split → one uncommitted Parquet data file of the Delta table (runs in a worker)."""
    from pipelines.decoding.delta_sink import write_data_file  # deltalake: only when used

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
    batches = [
        decode_records(chunk, layout, opts)
        for chunk in read_records(split.url, framing, layout.size, span=span)
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


def _load(path: str) -> pa.Table:
    """Map the worker's IPC file (zero-copy); the mapping stays valid after an unlink."""
    with pa.memory_map(path) as source:
        return pa.ipc.open_file(source).read_all()


def _discard(fut: Future) -> None:
    fut.cancel()
    if not fut.cancelled() and fut.exception() is None:
        os.unlink(fut.result().path)


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
        self._pool = (
            ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=reuse_freed_memory,
            )
            if processes > 0
            else None
        )

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
        window: deque[Future | Split] = deque()
        consumed: list[str] = []
        local_opts = replace(opts, text_views=True) if views else opts

        def take() -> DecodedBatch:
            head = window.popleft()
            if isinstance(head, Split):  # the parent's own share
                batch = _decode_here(head, layout, local_opts, framing)
                if strict:
                    check_strict(url, batch)
                return batch
            return self._take(url, head, strict, consumed)

        try:
            for n, split in enumerate(splits):
                if self._pool is None or (self.parent_decodes and n % self.workers == 0):
                    window.append(split)
                else:
                    window.append(
                        self._pool.submit(
                            decode_split, split, layout, opts, framing, views, consumed[:]
                        )
                    )
                    consumed.clear()
                if len(window) < self.workers * IN_FLIGHT_PER_WORKER:
                    continue
                yield take()
            while window:
                yield take()
        finally:
            # a consumer that stops early must not leave decoded splits in shared memory
            for fut in window:
                if not isinstance(fut, Split):
                    _discard(fut)
            _unlink(consumed)

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
        from pipelines.decoding.delta_sink import commit

        splits = list(plan_splits(url, framing, layout.size, split_bytes, self.workers))
        if self._pool is None:
            results = [decode_split_to_delta(s, layout, opts, framing, table_uri) for s in splits]
        else:
            futures = [
                self._pool.submit(decode_split_to_delta, s, layout, opts, framing, table_uri)
                for s in splits
            ]
            results = [f.result() for f in futures]
        if not results:
            return 0, {}
        commit(table_uri, results[0].schema, [r.action for r in results], mode)
        errors = {
            r.first_record + row: entries for r in results for row, entries in r.errors.items()
        }
        return sum(r.rows for r in results), errors

    @staticmethod
    def _take(url: str, fut: Future, strict: bool, consumed: list[str]) -> DecodedBatch:
        result: SplitResult = fut.result()
        consumed.append(result.path)
        batch = DecodedBatch(
            _load(result.path),
            result.errors,
            result.first_record,
            result.end_offset,
            result.error_offsets,
        )
        if strict:
            check_strict(url, batch)
        return batch

    def peak_rss(self) -> int:
        """The largest peak resident size (bytes) of the live workers (Linux; else 0)."""
        peak = 0
        for pid in list(getattr(self._pool, "_processes", None) or {}) if self._pool else []:
            try:
                with open(f"/proc/{pid}/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]) * 1024)
            except OSError:
                continue
        return peak

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
