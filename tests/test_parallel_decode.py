"""Worker-process decoding gives exactly the single-process result, in file order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from pipelines.bench import write_open_items
from pipelines.copybook import parse_copybook
from pipelines.decoding.decode_file import decode_file
from pipelines.decoding.framing import Framing
from pipelines.decoding.parallel import DecoderPool
from pipelines.decoding.records import DecodeOptions

COPYBOOK = Path(__file__).resolve().parent.parent / "pipelines/demo/copybooks/AROPEN.cpy"


def test_two_workers_equal_one_process(tmp_path: Path) -> None:
    path = tmp_path / "AROPEN.dat"
    write_open_items(path, 30_000)
    layout = parse_copybook(COPYBOOK.read_text())["AROPEN-RECORD"]
    opts = DecodeOptions(codepage="cp273", dates={"oi_due_date": "CYYMMDD"})
    single = pa.concat_tables(b.table for b in decode_file(str(path), layout, opts, Framing()))
    with DecoderPool(2) as pool:
        parts = list(pool.decode_fixed(str(path), layout, opts, 120, split_bytes=256 << 10))
    assert len(parts) > 4
    assert pa.concat_tables(parts).equals(single)


def test_stopping_early_leaves_no_scratch_files(tmp_path: Path) -> None:
    from pipelines.decoding.parallel import _scratch_dir

    path = tmp_path / "AROPEN.dat"
    write_open_items(path, 20_000)
    layout = parse_copybook(COPYBOOK.read_text())["AROPEN-RECORD"]
    before = set(Path(_scratch_dir()).glob("ledgerbridge-*.arrow"))
    with DecoderPool(2) as pool:
        parts = pool.decode_fixed(
            str(path), layout, DecodeOptions(codepage="cp273"), 120, split_bytes=64 << 10
        )
        next(parts)
        parts.close()
    assert set(Path(_scratch_dir()).glob("ledgerbridge-*.arrow")) == before
