"""The columnar JSON Lines writer gives byte-for-byte what the per-record path gives:
on the Cobrix conformance layouts and on arbitrary bytes (quotes, backslashes, control
characters, bad numbers), with error lists and debug columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.copybook import parse_copybook
from pipelines.decoding.output.json_lines import render_json_lines
from pipelines.decoding.records.decode import DecodeOptions, decode_chunk, fault_entries
from pipelines.decoding.records.nested import nest, to_json
from tests.conftest import CONFORMANCE


def _by_record(table, layout, errors) -> str:
    lines = []
    for i, row in enumerate(table.to_pylist()):
        record = nest(row, layout)
        if i in errors:
            record["_errors"] = errors[i]
        lines.append(to_json(record))
    return "".join(line + "\n" for line in lines)


def _same(records: np.ndarray, layout, opts: DecodeOptions) -> None:
    table, faults = decode_chunk(records, layout, opts)
    errors = fault_entries(faults, records)
    assert render_json_lines(table, layout, errors) == _by_record(table, layout, errors)


COPYBOOK = """
       01  REC.
           05  NAME        PIC X(6).
           05  AMOUNTS.
               10  AMOUNT  PIC S9(5)V99 COMP-3.
               10  COUNT   PIC 9(3).
           05  CODES       PIC X(2) OCCURS 3 TIMES.
           05  RATE        COMP-2.
           05  BIG         PIC S9(20)V9(4) COMP-3.
"""


@given(
    st.binary(min_size=40, max_size=40 * 20).map(lambda b: b[: len(b) // 40 * 40]),
    st.sampled_from(["cp037", "cp273", "ascii"]),
    st.sampled_from(["keep", "space"]),
    st.sampled_from(["none", "hex", "raw"]),
)
def test_arbitrary_bytes_render_identically(
    data: bytes, codepage: str, controls: str, debug: str
) -> None:
    layout = parse_copybook(COPYBOOK)["REC"]
    assert layout.size == 40
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, 40)
    _same(records, layout, DecodeOptions(codepage=codepage, controls=controls, debug=debug))


def _fixed_cases() -> list[Path]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(p for p in CONFORMANCE.iterdir() if (p / "copybook").is_dir())


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="needs ../shared/conformance/cobrix")
@pytest.mark.parametrize("case", _fixed_cases(), ids=lambda p: p.name)
def test_conformance_layouts_render_identically(case: Path) -> None:
    text = next((case / "copybook").iterdir()).read_text()
    for layout in parse_copybook(text).values():
        data = next((case / "data").iterdir()).read_bytes()
        n = min(len(data) // layout.size, 2_000)
        records = np.frombuffer(data[: n * layout.size], dtype=np.uint8).reshape(n, layout.size)
        for debug in ("none", "hex"):
            _same(records, layout, DecodeOptions(codepage="cp037", trim="both", debug=debug))


def test_multi_chunk_batches_without_errors_render_identically() -> None:
    import pyarrow as pa

    layout = parse_copybook(COPYBOOK)["REC"]
    rng = np.random.default_rng(3)
    parts = []
    for _ in range(3):
        text = rng.choice(np.frombuffer(b'AB"\\ 12', dtype=np.uint8), size=(50, 40))
        table, _ = decode_chunk(text.astype(np.uint8), layout, DecodeOptions("ascii"))
        parts.append(table)
    table = pa.concat_tables(parts)
    assert table.column(0).num_chunks == 3
    assert render_json_lines(table, layout, {}) == _by_record(table, layout, {})
