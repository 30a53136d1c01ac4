"""Copybook text → `RecordLayout`s.

Reference format by default (columns 1-6 sequence area and 73-80 ignored, column 7 the
indicator), because that is how copybooks leave the mainframe and the commonest cause of
parse failures in other decoders. Errors name the copybook line so a user can fix the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from pipelines.copybook.model import Field, Picture, RecordLayout, Usage
from pipelines.copybook.picture import PictureError, parse_picture, storage_size


class CopybookError(ValueError):
    """The copybook cannot be parsed; the message names the line."""


_USAGES = {
    "COMP-3": Usage.PACKED,
    "COMPUTATIONAL-3": Usage.PACKED,
    "PACKED-DECIMAL": Usage.PACKED,
    "COMP": Usage.BINARY,
    "COMP-0": Usage.BINARY,
    "COMPUTATIONAL-0": Usage.BINARY,
    "COMP-1": Usage.FLOAT,
    "COMPUTATIONAL-1": Usage.FLOAT,
    "COMP-2": Usage.DOUBLE,
    "COMPUTATIONAL-2": Usage.DOUBLE,
    "COMP-4": Usage.BINARY,
    "COMPUTATIONAL": Usage.BINARY,
    "COMPUTATIONAL-4": Usage.BINARY,
    "BINARY": Usage.BINARY,
    "COMP-5": Usage.NATIVE_BINARY,
    "COMPUTATIONAL-5": Usage.NATIVE_BINARY,
    "DISPLAY": Usage.DISPLAY,
}
_OCCURS_SUFFIX = re.compile(r"(_\d+)+$")
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[^\s]+""")


@dataclass(eq=False)  # identity semantics: items are tree nodes (and cache keys)
class _Item:
    level: int
    name: str
    line: int
    picture: Picture | None = None
    usage: Usage | None = None
    occurs: int = 1
    redefines: str | None = None
    sign_separate: bool = False
    sign_leading: bool = False
    sign_clause: bool = False  # a SIGN clause makes the item signed even without an S
    depending_on: str | None = None  # OCCURS … DEPENDING ON this counter
    children: list[_Item] = field(default_factory=list)


def _statements(text: str, free_format: bool) -> list[tuple[int, str]]:
    """Source lines → period-terminated statements, each with the line it starts on."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for lineno, raw in enumerate(text.expandtabs(8).splitlines(), start=1):
        if free_format:
            code = raw
            if code.lstrip().startswith("*>") or code.lstrip().startswith("*"):
                continue
        else:
            if len(raw) < 7:
                continue
            if raw[6] in "*/":
                continue
            if raw[6] == "D":
                continue
            code = raw[7:72]
        code = code.split("*>", 1)[0]
        if not code.strip():
            continue
        if not buf:
            start = lineno
        buf.append(code.strip())
        joined = " ".join(buf)
        if joined.endswith("."):
            out.append((start, joined[:-1].strip()))
            buf = []
    if buf:
        out.append((start, " ".join(buf)))
    return out


def _parse_statement(lineno: int, stmt: str) -> _Item | None:
    tokens = [t.rstrip(",") for t in _TOKEN.findall(stmt)]
    if not tokens or not tokens[0].isdigit():
        raise CopybookError(f"line {lineno}: expected a level number, found {stmt[:40]!r}")
    level = int(tokens[0])
    if level == 88:
        return None  # condition names hold no storage
    if level == 66:
        raise CopybookError(f"line {lineno}: level 66 (RENAMES) is not supported yet")
    name = tokens[1].upper() if len(tokens) > 1 else "FILLER"
    item = _Item(level=level, name=name, line=lineno)
    i = 2
    while i < len(tokens):
        tok = tokens[i].upper()
        if tok in ("PIC", "PICTURE"):
            i += 1
            if i < len(tokens) and tokens[i].upper() == "IS":
                i += 1
            try:
                item.picture = parse_picture(tokens[i])
            except (PictureError, IndexError) as exc:
                raise CopybookError(f"line {lineno}: {exc}") from exc
        elif tok == "USAGE" or tok == "IS":
            pass
        elif tok in _USAGES:
            item.usage = _USAGES[tok]
        elif tok == "REDEFINES":
            i += 1
            item.redefines = tokens[i].upper()
        elif tok == "OCCURS":
            i += 1
            item.occurs = int(tokens[i])
            if i + 2 < len(tokens) and tokens[i + 1].upper() == "TO":
                item.occurs = int(tokens[i + 2])  # OCCURS m TO n: the layout holds n
                i += 2
            if i + 1 < len(tokens) and tokens[i + 1].upper() == "TIMES":
                i += 1
            if i + 1 < len(tokens) and tokens[i + 1].upper() == "DEPENDING":
                i += 2 if i + 2 < len(tokens) and tokens[i + 2].upper() == "ON" else 1
                if i + 1 >= len(tokens):
                    raise CopybookError(f"line {lineno}: DEPENDING ON names no field")
                i += 1
                item.depending_on = tokens[i].upper()
        elif tok == "SIGN":
            item.sign_clause = True
        elif tok == "LEADING":
            item.sign_leading = True
        elif tok == "TRAILING":
            item.sign_leading = False
        elif tok == "SEPARATE":
            item.sign_separate = True
        elif tok == "CHARACTER":
            pass
        elif tok == "VALUE" or tok == "VALUES":
            break  # initial values do not affect layout
        elif tok in ("SYNC", "SYNCHRONIZED", "JUST", "JUSTIFIED", "RIGHT", "BLANK", "WHEN", "ZERO"):
            pass
        else:
            raise CopybookError(f"line {lineno}: unexpected {tokens[i]!r} in {stmt[:60]!r}")
        i += 1
    return item


def _tree(items: list[_Item]) -> list[_Item]:
    """Nest items by level number; several 01 levels give several records."""
    roots: list[_Item] = []
    stack: list[_Item] = []
    for item in items:
        level = 1 if item.level == 77 else item.level
        while stack and stack[-1].level >= level:
            stack.pop()
        if stack:
            stack[-1].children.append(item)
        else:
            roots.append(item)
        stack.append(item)
    return roots


class _Placer:
    """Lays out one record: offsets, OCCURS copies, the counters each copy depends on and
    the REDEFINES branch each field belongs to."""

    def __init__(self) -> None:
        self.fields: list[Field] = []
        self.branch_roots: set[str] = set()

    def place(
        self,
        item: _Item,
        offset: int,
        suffix: str,
        path: tuple[str, ...],
        depends: tuple[tuple[str, int, int], ...],
        key: tuple[str | int, ...] = (),
    ) -> int:
        """Lay out all OCCURS copies of `item`; return the total bytes they occupy.

        `key` is the parent's place in nested output: group names, and 0-based indexes
        for OCCURS elements."""
        base = (*key, item.name)
        if item.occurs == 1:
            return self.layout(item, offset, suffix, path, depends, base)
        one = 0
        for n in range(item.occurs):
            counter = f"{item.depending_on}{suffix}"  # resolved in finish() if outer
            # (counter, element, where the element's index sits in json_path)
            dep = (*depends, (counter, n + 1, len(base))) if item.depending_on else depends
            one = self.layout(item, offset + n * one, f"{suffix}_{n + 1}", path, dep, (*base, n))
        return one * item.occurs

    def layout(
        self,
        item: _Item,
        offset: int,
        suffix: str,
        path: tuple[str, ...],
        depends: tuple[tuple[str, int, int], ...],
        key: tuple[str | int, ...] = (),
    ) -> int:
        """Place `item` at `offset`; return the size of one occurrence."""
        if item.children:
            pos = end = offset
            starts: dict[str, int] = {}
            inner = (*path, item.name)
            for child in item.children:
                if child.redefines:
                    if child.redefines not in starts:
                        raise CopybookError(
                            f"line {child.line}: REDEFINES "
                            f"{child.redefines} names no earlier sibling"
                        )
                    at = starts[child.redefines]
                    self.branch_roots.update((child.name, child.redefines))
                else:
                    at = pos
                starts[child.name] = at
                size = self.place(child, at, suffix, inner, depends, key)
                if not child.redefines:
                    pos = at + size
                end = max(end, at + size)
            return end - offset
        usage = item.usage or Usage.DISPLAY
        picture = item.picture
        if picture is None:
            if usage not in (Usage.FLOAT, Usage.DOUBLE):
                raise CopybookError(f"line {item.line}: elementary item {item.name} has no PIC")
            picture = Picture(text=usage.value.upper(), category="numeric", signed=True)
        if (item.sign_clause or item.sign_separate) and not picture.signed:
            picture = replace(picture, signed=True)
        size = storage_size(picture, usage, item.sign_separate)
        self.fields.append(
            Field(
                name=item.name + suffix,
                offset=offset,
                size=size,
                picture=picture,
                usage=usage,
                line=item.line,
                level=item.level,
                sign_separate=item.sign_separate,
                sign_leading=item.sign_leading,
                path=path,
                depends_on=depends,
                json_path=key,
            )
        )
        return size

    def finish(self, record: str, size: int) -> RecordLayout:
        """Drop FILLERs, set REDEFINES branches, and qualify names that repeat in the record
        (ADDRESS in COMPANY and in PERSON → COMPANY-ADDRESS, PERSON-ADDRESS)."""
        names = {f.name for f in self.fields}

        def resolve(counter: str) -> str:
            # a counter inside the same OCCURS element carries its suffix; an outer one not
            while counter not in names and _OCCURS_SUFFIX.search(counter):
                counter = counter.rsplit("_", 1)[0]
            return counter

        self.fields = [
            replace(f, depends_on=tuple((resolve(c), k, at) for c, k, at in f.depends_on))
            if f.depends_on
            else f
            for f in self.fields
        ]
        fields = [f for f in self.fields if not f.name.startswith("FILLER")]
        out = []
        for f in fields:
            chain = (*f.path[1:], f.name)
            branch = next(
                (p for p in chain if _OCCURS_SUFFIX.sub("", p) in self.branch_roots),
                None,
            )
            out.append(replace(f, branch=branch))
        counts: dict[str, int] = {}
        for f in out:
            counts[f.name] = counts.get(f.name, 0) + 1
        out = [
            replace(f, name=f"{f.path[-1]}-{f.name}")
            if counts[f.name] > 1 and len(f.path) > 1
            else f
            for f in out
        ]
        return RecordLayout(name=record, size=size, fields=out)


def parse_copybook(text: str, *, free_format: bool = False) -> dict[str, RecordLayout]:
    """Parse copybook text into its 01-level records, by name, in source order.

    FILLER items keep their bytes in the layout but are not returned as fields.
    """
    items = [it for ln, st in _statements(text, free_format) if (it := _parse_statement(ln, st))]
    if not items:
        raise CopybookError("copybook holds no data items")
    records: dict[str, RecordLayout] = {}
    for root in _tree(items):
        placer = _Placer()
        size = placer.place(root, 0, "", (), ())
        records[root.name] = replace(placer.finish(root.name, size), tree=root)
    return records
