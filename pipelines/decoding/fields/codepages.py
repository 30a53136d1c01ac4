"""Code pages: Python codec names and the tables the vectorised decoders need.

The `ebcdic` package registers the EBCDIC code pages CPython lacks (cp1141, cp1047, cp1148, …);
importing it once is all it takes. Decoding itself goes through CPython's C charmap codecs,
which beat numpy lookup tables for text (see notes/DECODER.md).
"""

from __future__ import annotations

import codecs
import unicodedata
from functools import lru_cache

import ebcdic  # noqa: F401  (registers the codecs on import)

EBCDIC_CODEPAGES = ("cp037", "cp273", "cp500", "cp1047", "cp1140", "cp1141", "cp1148")
ASCII_CODEPAGES = ("ascii", "latin-1", "cp1252")


class CodePageError(ValueError):
    """An unknown or unusable code page."""


def _common_extended_table() -> str:
    """Cobrix's "common_extended": cp037 keeping control characters, as Cobrix maps them
    (checked byte by byte against its output in conformance case t08): below 0x20 a C1
    control becomes SUB, from 0x20 to 0x3F it becomes a space, as do DEL (0x07) and SUB
    (0x3F); 0x0D/0x25 are LF/CR, swapped relative to IBM's table."""
    chars = [bytes([b]).decode("cp037") for b in range(256)]
    for b in range(0x40):
        if 0x80 <= ord(chars[b]) <= 0x9F:
            chars[b] = "\x1a" if b < 0x20 else " "
    chars[0x07] = chars[0x3F] = " "
    chars[0x0D], chars[0x25] = "\n", "\r"
    return "".join(chars)


_COMMON_EXTENDED = _common_extended_table()
_COMMON_EXTENDED_ENCODE = codecs.charmap_build(_COMMON_EXTENDED)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") != "common_extended":
        return None
    return codecs.CodecInfo(
        name="common_extended",
        encode=lambda text, errors="strict": codecs.charmap_encode(
            text, errors, _COMMON_EXTENDED_ENCODE
        ),
        decode=lambda data, errors="strict": codecs.charmap_decode(data, errors, _COMMON_EXTENDED),
    )


codecs.register(_search)

# Cobrix's "common" code page: the EBCDIC invariant repertoire (what every EBCDIC code
# page agrees on: printable ASCII), read as cp037; any other byte becomes a space.
COMMON = "common"


@lru_cache
def codec_name(codepage: str) -> str:
    name = codepage.lower().replace("_", "")
    if name == COMMON:
        name = "cp037"
    elif name == "commonextended":
        name = "common_extended"
    if name == "ascii":
        name = "latin-1"  # ASCII files often carry Latin-1 bytes; never fail on them
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise CodePageError(f"unknown code page {codepage!r}") from exc


def is_ebcdic(codepage: str) -> bool:
    return codec_name(codepage) not in {codecs.lookup(c).name for c in ASCII_CODEPAGES}


@lru_cache
def control_to_space_table(codepage: str) -> bytes:
    """A bytes.translate table that turns every byte decoding to a control character
    (Unicode category Cc: C0, DEL, C1) into the code page's space.

    This is the default control-byte policy for text fields: such bytes in an extract are
    binary garbage or print-control leftovers, not text; Cobrix's default does the same.
    """
    name = codec_name(codepage)
    space = space_byte(codepage)
    table = bytearray(range(256))
    for b in range(256):
        char = bytes([b]).decode(name, errors="replace")
        if unicodedata.category(char) == "Cc" or (
            codepage.lower() == COMMON and not 0x20 <= ord(char) <= 0x7E
        ):
            table[b] = space
    return bytes(table)


@lru_cache
def decoding_table(codepage: str) -> str:
    """The code page as a 256-character charmap table with the control-byte policy applied
    (see `control_to_space_table`), for `codecs.charmap_decode` in a single pass."""
    name = codec_name(codepage)
    spaced = bytes(range(256)).translate(control_to_space_table(codepage))
    return "".join(bytes([b]).decode(name, errors="replace") for b in spaced)


@lru_cache
def space_byte(codepage: str) -> int:
    return " ".encode(codec_name(codepage))[0]
