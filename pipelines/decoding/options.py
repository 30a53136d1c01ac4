"""Decoder options as people write them (`C=COMPANY,P=PERSON`, `CUST-NAME=cp037`, `auto`)
→ the values the decoder takes. Parsed here, in the decoding package, so every entry point
(the command line, the landing path, tests) reads them the same way and names the option
that is wrong."""

from __future__ import annotations

import os

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.fields.codepages import CodePageError, codec_name

# Worker processes pay about 1.5 s each to start (imports, loading the compiled kernels)
# while one process decodes ~300 MB/s, so `auto` uses them only from this size on
AUTO_WORKERS_FROM_BYTES = 512 << 20


class DecoderOptionError(ValueError):
    """An option value that cannot be used; `option` names it (e.g. --segment-map)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


def segment_map(text: str | None) -> dict[str, str]:
    """`C=COMPANY,P=PERSON` (or `C;D=STATIC-DETAILS`) → segment id → REDEFINES branch."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        ids, sep, branch = part.partition("=")
        if not sep or not branch.strip():
            raise DecoderOptionError("--segment-map", f"{part!r}: expected ID=BRANCH")
        for seg in ids.split(";"):
            out[seg.strip()] = branch.strip().upper()
    return out


def segment_children(text: str | None) -> dict[str, list[str]]:
    """`PARENT=CHILD;CHILD,…` → parent segment branch → its child branches."""
    return {
        parent.strip().upper(): [c.strip().upper() for c in kids.split(";") if c.strip()]
        for parent, _, kids in (p.partition("=") for p in (text or "").split(","))
        if parent.strip()
    }


def field_encodings(text: str | None, layout: RecordLayout) -> dict[str, str]:
    """`CUST-NAME=cp037,…` → field → code page, each name and code page checked."""
    out: dict[str, str] = {}
    known = {f.name for f in layout.fields} | {f.column for f in layout.fields}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, page = part.partition("=")
        name, page = name.strip(), page.strip()
        if not sep or not page:
            raise DecoderOptionError("--field-encoding", f"{part!r}: expected FIELD=CODEPAGE")
        if name.upper() not in known and name not in known:
            raise DecoderOptionError("--field-encoding", f"{name}: no such field in the copybook")
        try:
            codec_name(page)
        except CodePageError as exc:
            raise DecoderOptionError("--field-encoding", str(exc)) from exc
        out[name if name in known else name.upper()] = page
    return out


def worker_count(text: str, size: int) -> int:
    """Worker processes for a file of `size` bytes: a number, or `auto` (every core from
    AUTO_WORKERS_FROM_BYTES on, one process below)."""
    if text == "auto":
        return (os.cpu_count() or 1) if size >= AUTO_WORKERS_FROM_BYTES else 1
    if not text.isdigit() or int(text) < 1:
        raise DecoderOptionError("--workers", f"{text!r}: a positive number or auto")
    return int(text)
