"""PIC clauses: expand repetitions and work out digits, scale, sign and storage size.

Handles X/A/N, 9, S, V, P scaling, the explicit decimal point and the edited symbols of
numeric DISPLAY data (Z * + - CR DB B 0 / , $).
"""

from __future__ import annotations

import math
import re

from pipelines.copybook.model import Picture, Usage

_REPEAT = re.compile(r"(CR|DB|.)\((\d+)\)")
_EDIT = set("Z*+-B0/,$")


class PictureError(ValueError):
    """A PIC clause this decoder does not understand."""


def expand(pic: str) -> str:
    """`S9(5)V99` → `S99999V99`: repetition counts written out, so each symbol is one position."""
    return _REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), pic.upper())


def _symbols(flat: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(flat):
        if flat[i : i + 2] in ("CR", "DB"):
            out.append(flat[i : i + 2])
            i += 2
        else:
            out.append(flat[i])
            i += 1
    return out


def parse_picture(text: str) -> Picture:
    flat = expand(text)
    if set(flat) <= {"X", "A", "9"} and ("X" in flat or "A" in flat):
        return Picture(text=text, category="alphanumeric", length=len(flat))
    if set(flat) <= {"N", "G"}:
        return Picture(text=text, category="national", length=2 * len(flat))
    symbols = _symbols(flat)
    allowed = {"9", "S", "V", "P", ".", "Z", "*", "+", "-", "CR", "DB", "B", "0", "/", ",", "$"}
    unknown = [s for s in symbols if s not in allowed]
    if unknown or not any(s in ("9", "Z", "*") for s in symbols):
        raise PictureError(f"unsupported PIC {text!r}")
    signed = "S" in symbols or any(s in ("+", "-", "CR", "DB") for s in symbols)
    explicit_point = "." in symbols
    edited = any(s in _EDIT or s in ("CR", "DB") for s in symbols)
    # a run of + or - is a floating sign: the first is the sign, the rest digit positions
    digit_like = []
    for i, s in enumerate(symbols):
        floating = s in ("+", "-") and i > 0 and symbols[i - 1] == s
        digit_like.append(s in ("9", "Z", "*") or floating)
    point_at = next((i for i, s in enumerate(symbols) if s in ("V", ".")), None)
    digits = sum(digit_like)
    after = sum(d for i, d in enumerate(digit_like) if point_at is not None and i > point_at)
    first_digit = digit_like.index(True)
    last_digit = len(digit_like) - 1 - digit_like[::-1].index(True)
    p_left = sum(1 for i, s in enumerate(symbols) if s == "P" and i < first_digit)
    p_right = sum(1 for i, s in enumerate(symbols) if s == "P" and i > last_digit)
    scale = after + p_left if p_left else (-p_right if p_right else after)
    if p_left and point_at is None:
        scale = digits + p_left
    length = sum(2 if s in ("CR", "DB") else 0 if s in ("S", "V", "P") else 1 for s in symbols)
    return Picture(
        text=text,
        category="numeric",
        digits=digits,
        scale=scale,
        signed=signed,
        length=length,
        explicit_point=explicit_point,
        edited=edited,
    )


def storage_size(pic: Picture | None, usage: Usage, sign_separate: bool = False) -> int:
    """Bytes the item occupies in the record, by IBM rules for each usage."""
    if usage is Usage.FLOAT:
        return 4
    if usage is Usage.DOUBLE:
        return 8
    if pic is None:
        raise PictureError(f"usage {usage.value} needs a PIC clause")
    if not pic.is_numeric:
        return pic.length
    if usage is Usage.DISPLAY:
        return pic.length + (1 if sign_separate else 0)
    if usage is Usage.PACKED:
        return pic.digits // 2 + 1
    if pic.digits <= 4:
        return 2
    if pic.digits <= 9:
        return 4
    if pic.digits <= 18:
        return 8
    # beyond 18 digits (ARITH(EXTEND), rehosted data): the fewest bytes that hold the digits
    # and a sign, as Cobrix lays them out (19-20 digits: 9 bytes, 37: 16)
    bits = math.ceil(pic.digits * math.log2(10)) + 1
    return math.ceil(bits / 8)
