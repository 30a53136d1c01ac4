"""Find values anywhere under a folder, in every form a file may hold them: raw bytes
(UTF-8, UTF-16, the EBCDIC code pages of the extracts), gzip members, decoded Parquet
columns (their pages are compressed, so a plain grep misses them) and DuckDB tables
(strings are compressed there too). The proof that an erasure left nothing behind.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import ebcdic  # noqa: F401 - registers the EBCDIC code pages (cp1141, …)

CODECS = ("utf-8", "utf-16-le", "cp273", "cp1141", "cp037", "cp500")


def _forms(value: str) -> list[bytes]:
    out = []
    for codec in CODECS:
        for v in {value, value.lower(), value.upper()}:
            try:
                out.append(v.encode(codec))
            except UnicodeEncodeError:
                continue
    return out


def _parquet_text(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return "\n".join(str(v) for col in table.columns for v in col.to_pylist()).lower()


def _duckdb_text(path: Path) -> str:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        parts = []
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'"
        ).fetchall():
            rows = con.execute(f'select * from "{schema}"."{name}"').fetchall()
            parts += [str(r) for r in rows]
        return "\n".join(parts).lower()
    finally:
        con.close()


def scan(root: Path, values: list[str]) -> list[tuple[str, str]]:
    """(file, how it was found) for every file under `root` that holds one of `values`."""
    wanted = [v for v in values if v]
    forms = [f for v in wanted for f in _forms(v)]
    hits: list[tuple[str, str]] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(f in data for f in forms):
            hits.append((str(path), "raw bytes"))
            continue
        if data[:2] == b"\x1f\x8b":
            try:
                inner = gzip.decompress(data)
            except OSError:
                inner = b""
            if any(f in inner for f in forms):
                hits.append((str(path), "gzip"))
            continue
        text = ""
        if data[:4] == b"PAR1":
            text = _parquet_text(path)
        elif len(data) > 16 and data[8:12] == b"DUCK":
            text = _duckdb_text(path)
        if text and any(v.lower() in text for v in wanted):
            hits.append((str(path), "decoded"))
    return hits
