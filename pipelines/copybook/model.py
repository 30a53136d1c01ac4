"""The parsed shape of a copybook: elementary fields with offsets, grouped into 01-level records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Usage(Enum):
    DISPLAY = "display"
    PACKED = "comp-3"  # COMP-3 / PACKED-DECIMAL
    BINARY = "comp"  # COMP / COMP-0 / COMP-4 / BINARY: big-endian, PIC-sized
    NATIVE_BINARY = "comp-5"  # COMP-5: full binary range
    FLOAT = "comp-1"  # 4-byte floating point (IBM hex or IEEE-754, by option)
    DOUBLE = "comp-2"  # 8-byte floating point


@dataclass(frozen=True)
class Picture:
    """A PIC clause reduced to what decoding needs.

    `scale` is the power of ten the stored digits are divided by: digits after V or the
    explicit point, plus P positions left of the digits; P positions right of the digits
    make it negative (PIC 9(5)PPP holds 30503 for 30503000).
    """

    text: str
    category: str  # "alphanumeric", "numeric" or "national"
    digits: int = 0  # numeric: digit positions stored (9, Z, * and floating signs)
    scale: int = 0
    signed: bool = False
    length: int = 0  # characters the item occupies when DISPLAY
    explicit_point: bool = False  # a real "." (or "," with DECIMAL-POINT IS COMMA) byte
    edited: bool = False  # Z * + - CR DB B 0 / , $ insertion or replacement symbols

    @property
    def is_numeric(self) -> bool:
        return self.category == "numeric"

    @property
    def precision(self) -> int:
        """Decimal precision needed for the value (P positions count as digits)."""
        return max(self.digits + abs(min(self.scale, 0)), self.scale, 1)


@dataclass(frozen=True)
class Field:
    """One elementary item: where it sits in the record and how its bytes are encoded."""

    name: str  # the COBOL name, with _N suffixes for OCCURS elements
    offset: int
    size: int
    picture: Picture
    usage: Usage
    line: int  # copybook line, for error messages
    level: int = 5
    path: tuple[str, ...] = ()  # enclosing groups, outermost first (the 01 record included)
    # OCCURS DEPENDING ON: (counter field, 1-based element, position of the element's index
    # in json_path); the value is null when counter < element
    depends_on: tuple[tuple[str, int, int], ...] = ()
    branch: str | None = None  # the REDEFINES alternative (group or field) it belongs to
    # place in nested output: the 01 record, groups, and 0-based OCCURS indexes
    json_path: tuple[str | int, ...] = ()
    sign_separate: bool = False
    sign_leading: bool = False

    @property
    def type_text(self) -> str:
        """How the layout listing shows the type, e.g. `S9(11)V99 COMP-3`."""
        if self.usage in (Usage.FLOAT, Usage.DOUBLE):
            return self.usage.value.upper()
        usage = "" if self.usage is Usage.DISPLAY else f" {self.usage.value.upper()}"
        sign = ""
        if self.sign_separate or self.sign_leading:
            sign = " SIGN " + ("LEADING" if self.sign_leading else "TRAILING")
            sign += " SEPARATE" if self.sign_separate else ""
        return f"{self.picture.text}{usage}{sign}"

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
    # the parsed item tree, kept for layouts that vary per record (OCCURS DEPENDING ON
    # with variable-size occurs); see pipelines.decoding.records.variable_occurs
    tree: Any = None

    def field(self, name: str) -> Field:
        wanted = name.upper()
        for f in self.fields:
            if f.name == wanted or f.column == name:
                return f
        raise KeyError(f"record {self.name} has no field {name!r}")
