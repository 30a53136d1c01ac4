"""The parsed shape of a copybook: elementary fields with offsets, grouped into 01-level records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Usage(Enum):
    DISPLAY = "display"
    PACKED = "comp-3"  # COMP-3 / PACKED-DECIMAL
    BINARY = "comp"  # COMP / COMP-4 / BINARY: big-endian, PIC-sized
    NATIVE_BINARY = "comp-5"  # COMP-5: full binary range


@dataclass(frozen=True)
class Picture:
    """A PIC clause reduced to what decoding needs."""

    text: str
    category: str  # "alphanumeric" or "numeric"
    digits: int = 0  # numeric: total digit positions (integer + fraction)
    scale: int = 0  # numeric: digits after the implied decimal point (V)
    signed: bool = False
    length: int = 0  # alphanumeric: characters

    @property
    def is_numeric(self) -> bool:
        return self.category == "numeric"


@dataclass(frozen=True)
class Field:
    """One elementary item: where it sits in the record and how its bytes are encoded."""

    name: str  # the COBOL name, with _N suffixes for OCCURS elements
    offset: int
    size: int
    picture: Picture
    usage: Usage
    line: int  # copybook line, for error messages
    sign_separate: bool = False
    sign_leading: bool = False

    @property
    def column(self) -> str:
        """The column name in landed tables: COBOL name in snake_case (CM-CUST-NO → cm_cust_no)."""
        return re.sub(r"[^0-9a-z]+", "_", self.name.lower()).strip("_")


@dataclass
class RecordLayout:
    """An 01-level record: its size and elementary fields in byte order."""

    name: str
    size: int
    fields: list[Field] = field(default_factory=list)

    def field(self, name: str) -> Field:
        wanted = name.upper()
        for f in self.fields:
            if f.name == wanted or f.column == name:
                return f
        raise KeyError(f"record {self.name} has no field {name!r}")
