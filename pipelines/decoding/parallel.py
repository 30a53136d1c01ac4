"""Decode fixed-length files on several cores: long-lived worker processes (spawn), each
taking a (file, byte range) split aligned to record boundaries.

The split is the unit of work so the same function can run on a distributed engine later.
Workers write Arrow IPC files to shared memory, which the parent maps without copying;
results come back in file order.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.records import DecodeOptions, decode_chunk

SUB_CHUNK_RECORDS = 8_192


@dataclass(frozen=True)
class Split:
    url: str
    start: int  # byte offset of the first record
    records: int
    record_length: int


def _scratch_dir() -> str:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else tempfile.gettempdir()


def decode_split(split: Split, layout: RecordLayout, opts: DecodeOptions) -> str:
    """One split → an Arrow IPC file in shared memory (runs in a worker); returns its path.

    The parent memory-maps it: the decoded columns cross the process boundary without
    being pickled or copied through a pipe."""
    with fsspec.open(split.url, "rb") as fh:
        fh.seek(split.start)
        data = fh.read(split.records * split.record_length)
    matrix = np.frombuffer(data, dtype=np.uint8).reshape(-1, split.record_length)
    fd, path = tempfile.mkstemp(prefix="ledgerbridge-", suffix=".arrow", dir=_scratch_dir())
    os.close(fd)
    tables = [
        decode_chunk(matrix[i : i + SUB_CHUNK_RECORDS], layout, opts)[0]
        for i in range(0, len(matrix), SUB_CHUNK_RECORDS)
    ]
    with pa.ipc.new_file(path, tables[0].schema) as writer:
        for table in tables:
            writer.write_table(table)
    return path


def _load(path: str) -> pa.Table:
    """Map the worker's IPC file (zero-copy) and unlink it: the mapping keeps it alive."""
    try:
        with pa.memory_map(path) as source:
            return pa.ipc.open_file(source).read_all()
    finally:
        os.unlink(path)


class DecoderPool:
    """Worker processes that stay up between files (start-up is paid once)."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def decode_fixed(
        self,
        url: str,
        layout: RecordLayout,
        opts: DecodeOptions,
        record_length: int,
        start: int = 0,
        end: int | None = None,
        split_bytes: int = 8 << 20,
    ) -> Iterator[pa.Table]:
        fs, path = fsspec.core.url_to_fs(url)
        end = fs.size(path) if end is None else end
        total = (end - start) // record_length
        per = max(1, split_bytes // record_length)
        splits = [
            Split(url, start + i * record_length, min(per, total - i), record_length)
            for i in range(0, total, per)
        ]
        futures = [self._pool.submit(decode_split, s, layout, opts) for s in splits]
        taken = 0
        try:
            for fut in futures:
                taken += 1
                yield _load(fut.result())
        finally:
            # a consumer that stops early must not leave decoded splits in shared memory
            for fut in futures[taken:]:
                fut.cancel()
                if not fut.cancelled() and fut.exception() is None:
                    os.unlink(fut.result())

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
