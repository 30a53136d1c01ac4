"""PIC clauses: expand repetitions and work out digits, scale, sign and storage size."""

from __future__ import annotations

import re

from pipelines.copybook.model import Picture, Usage

_REPEAT = re.compile(r"(.)\((\d+)\)")


class PictureError(ValueError):
    """A PIC clause this decoder does not understand."""


def expand(pic: str) -> str:
    """`S9(5)V99` → `S99999V99`: repetition counts written out, so each symbol is one position."""
    return _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), pic.upper())


def parse_picture(text: str) -> Picture:
    flat = expand(text)
    if set(flat) <= {"X", "A"}:
        return Picture(text=text, category="alphanumeric", length=len(flat))
    if re.fullmatch(r"S?9*V?9*", flat) and "9" in flat:
        signed = flat.startswith("S")
        body = flat.lstrip("S")
        integer, _, fraction = body.partition("V")
        return Picture(
            text=text,
            category="numeric",
            digits=len(integer) + len(fraction),
            scale=len(fraction),
            signed=signed,
        )
    raise PictureError(f"unsupported PIC {text!r}")


def storage_size(pic: Picture, usage: Usage, sign_separate: bool = False) -> int:
    """Bytes the item occupies in the record, by IBM rules for each usage."""
    if not pic.is_numeric:
        return pic.length
    if usage is Usage.DISPLAY:
        return pic.digits + (1 if sign_separate else 0)
    if usage is Usage.PACKED:
        return pic.digits // 2 + 1
    if pic.digits <= 4:
        return 2
    if pic.digits <= 9:
        return 4
    if pic.digits <= 18:
        return 8
    raise PictureError(f"binary PIC {pic.text!r} has more than 18 digits")
