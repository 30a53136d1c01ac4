"""The DuckDB warehouse: connections with the delta extension available offline.

DuckDB would download extensions from the internet; the PyPI wheels carry them for exactly
one DuckDB version (pinned together in pyproject.toml). We install them once into a folder
inside the virtualenv and point every connection — ours and dbt's — at it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from duckdb_extensions import import_extension

EXTENSION_DIR = Path(sys.prefix) / "share" / "ledgerbridge" / "duckdb_extensions"
EXTENSIONS = ("delta", "httpfs")


def ensure_extensions() -> Path:
    """Install the bundled extensions into EXTENSION_DIR (a no-op once done)."""
    marker = EXTENSION_DIR / f".installed-{duckdb.__version__}"
    if not marker.exists():
        EXTENSION_DIR.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(config=_config())
        for name in EXTENSIONS:
            import_extension(name, con=con)
        con.close()
        marker.touch()
    return EXTENSION_DIR


def _config() -> dict[str, object]:
    return {"extension_directory": str(EXTENSION_DIR), "autoinstall_known_extensions": False}


def connect(path: Path | str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    ensure_extensions()
    if path != ":memory:" and read_only and not Path(path).exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `ledgerbridge run` or `build` first")
    return duckdb.connect(str(path), read_only=read_only, config=_config())
