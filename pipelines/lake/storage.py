"""Small file operations that work on local paths and object-store paths alike."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def write_text_atomically(path: Any, text: str) -> None:
    """Replace a small file whole: a reader sees the old or the new content, never half.

    Locally by rename; an object-store PUT is atomic by itself."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        path.write_text(text)


def copy_file(source: Path, target: Any) -> None:
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())


def remove_tree(path: Any) -> None:
    """Remove a folder and everything in it, on local disk or in an object store."""
    if isinstance(path, Path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.fs.rm(path.path, recursive=True)
