"""Copybook layouts against Cobrix's layout dumps: every elementary field's offset and length."""

from __future__ import annotations

import pytest

from pipelines.copybook import parse_copybook
from tests.conftest import CONFORMANCE

pytestmark = pytest.mark.skipif(
    not CONFORMANCE.exists(), reason=f"conformance data not found at {CONFORMANCE}"
)


def _cobrix_layout(path) -> dict[str, tuple[int, int]]:
    out = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0].isdigit() and all(p.isdigit() for p in parts[-3:]):
            out[parts[1]] = (int(parts[-3]) - 1, int(parts[-1]))
    return out


@pytest.mark.parametrize(
    ("case", "layout"),
    [
        ("t06_numeric_type_variety", "test6_layout.txt"),
    ],
)
def test_field_offsets_and_lengths_match_cobrix(case: str, layout: str) -> None:
    folder = CONFORMANCE / case
    records = parse_copybook(next((folder / "copybook").iterdir()).read_text())
    rec = next(iter(records.values()))
    want = _cobrix_layout(folder / "expected" / layout)
    got = {f.name.replace("-", "_"): (f.offset, f.size) for f in rec.fields}
    compared = {k: got[k] for k in want if k in got}
    assert len(compared) > 150
    assert compared == {k: want[k] for k in compared}
    assert rec.size == want["RECORD"][1]
