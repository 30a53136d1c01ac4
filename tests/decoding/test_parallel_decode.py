"""Worker-process decoding gives exactly the single-process result, in file order, for
every record format, with the same error entries, strict-mode and framing faults."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pipelines.bench import write_open_items
from pipelines.copybook import parse_copybook
from pipelines.decoding.execution.decode_file import StrictModeError, decode_file
from pipelines.decoding.execution.parallel import DecoderPool, _scratch_dir
from pipelines.decoding.execution.splits import plan_splits
from pipelines.decoding.records.decode import DecodeOptions
from pipelines.decoding.records.framing import Framing, FramingError, frame
from tests.conftest import ROOT

COPYBOOK = ROOT / "pipelines/embedded/demo/copybooks/AROPEN.cpy"
OPTS = DecodeOptions(codepage="cp273", dates={"oi_due_date": "CYYMMDD"})
SPLIT = 64 << 10


@pytest.fixture(scope="module")
def layout():
    return parse_copybook(COPYBOOK.read_text())["AROPEN-RECORD"]


@pytest.fixture(scope="module")
def pool():
    with DecoderPool(2) as p:
        yield p


@pytest.fixture(scope="module")
def fixed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An open-item extract with a few corrupt packed amounts (values that do not decode)."""
    path = tmp_path_factory.mktemp("par") / "AROPEN.dat"
    write_open_items(path, 12_000)
    data = bytearray(path.read_bytes())
    for record in (3, 4_321, 9_999):
        data[record * 120 + 33] = 0xAB  # oi_amount's first byte: a bad packed digit
    path.write_bytes(bytes(data))
    return path


def _variable(fixed: Path, out: Path, blocked: bool) -> Path:
    """The fixed records as V (RDW) or VB (BDW + RDW) records of varying length."""
    data = fixed.read_bytes()
    rng = np.random.default_rng(7)
    records = [data[o : o + int(rng.integers(60, 121))] for o in range(0, len(data), 120)]
    framed = [(len(r) + 4).to_bytes(2, "big") + b"\0\0" + r for r in records]
    if not blocked:
        out.write_bytes(b"".join(framed))
        return out
    blocks, block = [], b""
    for r in framed:
        if len(block) + len(r) > 6_000:
            blocks.append(block)
            block = b""
        block += r
    blocks.append(block)
    out.write_bytes(b"".join((len(b) + 4).to_bytes(2, "big") + b"\0\0" + b for b in blocks))
    return out


def _single(path: Path, layout, framing: Framing):
    batches = list(decode_file(str(path), layout, OPTS, framing))
    return pa.concat_tables(b.table for b in batches), _errors(batches)


def _errors(batches) -> dict[int, tuple[int, list]]:
    """Record number → (file byte offset, error entries), over all batches."""
    out = {}
    for b in batches:
        for row, entries in b.errors.items():
            out[b.first_record + row] = (b.error_offsets[row], entries)
    return out


@pytest.fixture(scope="module")
def sharing_pool():
    with DecoderPool(2, parent_decodes=True) as p:
        yield p


@pytest.mark.parametrize("record_format", ["F", "V", "VB"])
def test_parent_sharing_the_work_gives_the_same_result(
    sharing_pool: DecoderPool, layout, fixed_file: Path, tmp_path: Path, record_format: str
) -> None:
    path = (
        fixed_file
        if record_format == "F"
        else _variable(fixed_file, tmp_path / "AROPEN.v", record_format == "VB")
    )
    framing = Framing(record_format=record_format)
    table, errors = _single(path, layout, framing)
    batches = list(sharing_pool.decode(str(path), layout, OPTS, framing, split_bytes=SPLIT))
    assert pa.concat_tables(b.table for b in batches).equals(table)
    assert _errors(batches) == errors


@pytest.mark.parametrize("record_format", ["F", "V", "VB"])
def test_workers_equal_one_process(
    pool: DecoderPool, layout, fixed_file: Path, tmp_path: Path, record_format: str
) -> None:
    path = (
        fixed_file
        if record_format == "F"
        else _variable(fixed_file, tmp_path / "AROPEN.v", record_format == "VB")
    )
    framing = Framing(record_format=record_format)
    table, errors = _single(path, layout, framing)
    batches = list(pool.decode(str(path), layout, OPTS, framing, split_bytes=SPLIT))
    assert len(batches) > 4
    assert pa.concat_tables(b.table for b in batches).equals(table)
    assert _errors(batches) == errors
    # 1-based numbers; the header (1) and trailer (12,002) do not fit the detail layout
    assert set(errors) == {1, 4, 4_322, 10_000, 12_002}
    assert [b.end_offset for b in batches][-1] == path.stat().st_size


@pytest.mark.parametrize("record_format", ["F", "V", "VB"])
def test_splits_tile_the_file_on_record_boundaries(
    layout, fixed_file: Path, tmp_path: Path, record_format: str
) -> None:
    path = (
        fixed_file
        if record_format == "F"
        else _variable(fixed_file, tmp_path / "AROPEN.v", record_format == "VB")
    )
    framing = Framing(record_format=record_format)
    starts, _ = frame(path.read_bytes(), framing, 120)
    for workers in (1, 2):
        splits = list(plan_splits(str(path), framing, 120, SPLIT, workers))
        assert splits[0].start == 0 and splits[-1].end == path.stat().st_size
        assert all(a.end == b.start for a, b in itertools.pairwise(splits))
        header = 0 if record_format == "F" else 4
        for s in splits:  # each split starts exactly at its first record (or its block)
            first = int(starts[s.first_record - 1]) - header
            assert s.start == first or (record_format == "VB" and s.start == first - 4)
        sizes = [s.end - s.start for s in splits]
        if workers == 2:  # guided: full splits first, the tail in smaller ones
            assert sizes[-2] < sizes[0] / 2 and max(sizes) <= SPLIT + 6_000


def test_views_carry_the_same_text(pool: DecoderPool, layout, fixed_file: Path) -> None:
    import polars as pl

    plain = pa.concat_tables(b.table for b in pool.decode(str(fixed_file), layout, OPTS, Framing()))
    views = [b.table for b in pool.decode(str(fixed_file), layout, OPTS, Framing(), views=True)]
    assert views[0].schema.field("oi_text").type == pa.string_view()
    assert pl.concat([pl.from_arrow(t) for t in views]).equals(pl.from_arrow(plain))


def test_strict_names_the_first_bad_record(pool: DecoderPool, layout, fixed_file: Path) -> None:
    framing = Framing(file_start_offset=120, file_end_offset=120)  # header, trailer skipped
    with pytest.raises(StrictModeError, match=r"record 3 at byte offset 360: field OI-AMOUNT"):
        list(pool.decode(str(fixed_file), layout, OPTS, framing, strict=True, split_bytes=SPLIT))


def test_framing_fault_in_a_late_split_names_file_offset_and_record(
    pool: DecoderPool, layout, fixed_file: Path, tmp_path: Path
) -> None:
    path = _variable(fixed_file, tmp_path / "AROPEN.v", blocked=False)
    data = path.read_bytes()
    starts, _ = frame(data, Framing(record_format="V"), 120)
    cut = int(starts[9_000]) - 4  # the RDW of record 9,001, far past the first split
    path.write_bytes(data[:cut] + b"\x00\x02\x00\x00" + data[cut + 4 :])
    with pytest.raises(FramingError, match=rf"RDW at byte offset {cut} \(record 9001\)"):
        list(pool.decode(str(path), layout, OPTS, Framing(record_format="V"), split_bytes=SPLIT))
    fixed = tmp_path / "short.dat"
    fixed.write_bytes(fixed_file.read_bytes()[:-7])
    with pytest.raises(FramingError, match="not a multiple of the record length 120"):
        list(pool.decode(str(fixed), layout, OPTS, Framing()))


def test_slots_are_reused_only_once_let_go_and_removed_at_close(layout, fixed_file: Path) -> None:
    """A batch the consumer keeps is never overwritten by a later split; batches let go
    hand their slot on (the ring stays small); a consumer stopping early leaves nothing
    in flight; closing the pool removes every slot file. (Only this pool's own slots are
    counted: another test run on the machine has its own in the same folder.)"""
    reference = [b.table for b in decode_file(str(fixed_file), layout, OPTS, Framing())]
    expected = pa.concat_tables(reference)
    with DecoderPool(2) as own:
        for _ in range(3):
            kept: list[pa.Table] = []  # the previous round's batches are let go here
            batches = own.decode(str(fixed_file), layout, OPTS, Framing(), split_bytes=SPLIT)
            kept = [b.table for n, b in enumerate(batches) if n % 3 == 0]  # others dropped
            rows = [0, *itertools.accumulate(len(t) for t in kept)]
            assert len(kept) > 3
        ring = own.slot_files()
        assert all(Path(p).parent == Path(_scratch_dir()) for p in ring)
        assert len(ring) <= 2 * 4 + len(kept) + 1  # the window plus what is still held
        assert len(ring) < 3 * 3 * len(kept) - 3  # far fewer than the 3 rounds' splits
        every = list(own.decode(str(fixed_file), layout, OPTS, Framing(), split_bytes=SPLIT))
        assert pa.concat_tables(b.table for b in every).equals(expected)
        parts = own.decode(str(fixed_file), layout, OPTS, Framing(), split_bytes=SPLIT)
        next(parts)
        parts.close()
        # the batches held all along still hold their own records
        for n, table in enumerate(kept):
            first = every[3 * n].first_record - 1
            assert table.equals(expected.slice(first, table.num_rows)), n
        assert rows[-1] == sum(t.num_rows for t in kept)
    assert ring and not any(Path(p).exists() for p in ring)


def test_worker_faults_reach_the_caller() -> None:
    """An exception in a worker is raised in the parent at that call's turn (the workers
    stay usable); a worker that dies is named with its exit code."""
    import os

    from pipelines.decoding.execution.workers import InOrder, WorkerCrashedError, WorkerProcesses

    workers = WorkerProcesses(2)
    try:
        calls = InOrder(workers)
        calls.submit(int, "12")
        calls.submit(int, "not a number")
        calls.submit(int, "7")
        assert calls.take() == 12
        with pytest.raises(ValueError, match="not a number"):
            calls.take()
        assert calls.take() == 7
        calls.submit(os._exit, 3)
        with pytest.raises(WorkerCrashedError, match=r"exited \(code 3\)"):
            calls.take()
    finally:
        workers.close()


def test_workers_write_one_delta_commit(
    pool: DecoderPool, layout, fixed_file: Path, tmp_path: Path
) -> None:
    import json

    from deltalake import DeltaTable

    framing = Framing(file_start_offset=120, file_end_offset=120)
    table, errors = _single(fixed_file, layout, framing)
    uri = str(tmp_path / "open_items")
    rows, got_errors = pool.decode_to_delta(
        str(fixed_file), layout, OPTS, framing, uri, split_bytes=SPLIT
    )
    assert rows == table.num_rows == 12_000
    assert got_errors == {n: e for n, (_, e) in errors.items()}
    delta = DeltaTable(uri)
    assert delta.version() == 0 and len(delta.file_uris()) > 4
    landed = pa.table(delta.to_pyarrow_dataset().to_table()).sort_by("oi_doc_no")
    assert landed.equals(table.sort_by("oi_doc_no"))
    log = (tmp_path / "open_items/_delta_log/00000000000000000000.json").read_text()
    stats = [
        json.loads(json.loads(line)["add"]["stats"]) for line in log.splitlines() if '"add"' in line
    ]
    assert sum(s["numRecords"] for s in stats) == 12_000
    assert all("oi_amount" in s["minValues"] for s in stats)
    pool.decode_to_delta(str(fixed_file), layout, OPTS, framing, uri, split_bytes=SPLIT)
    assert DeltaTable(uri).version() == 1
    assert DeltaTable(uri).to_pyarrow_dataset().count_rows() == 24_000


def test_slot_arena_grows_and_exports_what_the_parent_reads(tmp_path: Path) -> None:
    """Buffers allocated before and after the slot file grows, and buffers made elsewhere
    (copied in), all come back intact through the manifest on a separate mapping."""
    import mmap

    from pipelines.decoding.execution.slot_arena import SlotArena, output_array, read_table

    slot = tmp_path / "slot"
    slot.write_bytes(b"")
    arena = SlotArena(str(slot))
    for _ in range(2):  # the second round reuses the grown file from its front
        arena.reset()
        with arena.allocating():
            small = output_array(1_000, np.int64)  # in the first mapping
            big = output_array((3, 400_000), np.int64)  # forces a larger file
        assert small.ctypes.data % 64 == 0 and big.ctypes.data % 64 == 0
        small[:] = np.arange(1_000)
        big[:] = np.arange(1_200_000).reshape(3, 400_000)
        outside = pa.array(["x" * 20, None, "short", "y"] * 250, pa.string_view())
        table = pa.table(
            {
                "small": pa.Array.from_buffers(pa.int64(), 1_000, [None, pa.py_buffer(small)]),
                "text": outside,
            }
        ).slice(5, 900)  # a non-zero array offset travels too
        big_table = pa.table(
            {"big": pa.Array.from_buffers(pa.int64(), 400_000, [None, pa.py_buffer(big[2])])}
        )
        manifest, big_manifest = arena.export(table), arena.export(big_table)
        with slot.open("rb") as fh:
            view = np.frombuffer(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), np.uint8)
        assert read_table(view, manifest).equals(table)
        assert read_table(view, big_manifest).equals(big_table)


def test_text_regions_keep_only_the_bytes_in_use(tmp_path: Path) -> None:
    """Text is decoded into its worst-case room (2 UTF-8 bytes per cp273 byte); the slot
    takes the unused rest back, so slot files stay the size of the values."""
    from pipelines.decoding.execution.slot_arena import SlotArena
    from pipelines.decoding.fields.text import decode_text_columns

    slot = tmp_path / "slot"
    slot.write_bytes(b"")
    arena = SlotArena(str(slot))
    records = np.full((1_000, 50), 0x40, dtype=np.uint8)  # spaces
    records[:, :30] = 0xC1  # "A" * 30, then 20 spaces trimmed away
    records[:, 30] = 0xC0  # "ä" in cp273: 2 UTF-8 bytes
    with arena.allocating():
        first, second = decode_text_columns(
            records, [(0, 40, "cp273"), (0, 50, "cp273")], views=False
        )
    assert first.to_pylist() == second.to_pylist() == ["A" * 30 + "ä"] * 1_000
    offsets_room = 2 * 1_001 * 4 + 64
    assert arena.used <= 16 + offsets_room + 2 * 1_000 * 32 + 64
