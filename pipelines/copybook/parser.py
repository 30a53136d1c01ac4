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
_NO_STORAGE_WORDS = {
    "LEFT",
    "JUST",
    "JUSTIFIED",
    "RIGHT",
    "BLANK",
    "WHEN",
    "ZERO",
    "ASCENDING",
    "DESCENDING",
    "GLOBAL",
    "EXTERNAL",
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
    renames: tuple[str, str | None] | None = None  # 66 NAME RENAMES A [THRU B]
    filler: str | None = None  # "value" or "group" for a FILLER (renamed FILLER_…)
    sync: bool = False  # SYNCHRONIZED: binary and floating items start on their boundary
    children: list[_Item] = field(default_factory=list)


@dataclass(frozen=True)
class _Token:
    text: str
    line: int
    col: int  # 1-based column in the source line

    def where(self) -> str:
        return f"line {self.line}, column {self.col}"


def _statements(text: str, free_format: bool) -> list[list[_Token]]:
    """Source lines → period-terminated statements, as tokens that know where they are."""
    out: list[list[_Token]] = []
    current: list[_Token] = []
    for lineno, raw in enumerate(text.expandtabs(8).splitlines(), start=1):
        if free_format:
            if raw.lstrip().startswith("*"):
                continue
            code, first_col = raw, 1
        else:
            if len(raw) < 7 or raw[6] in "*/D":
                continue  # short line, comment, page eject or debug line
            code, first_col = raw[7:72], 8
        code = code.split("*>", 1)[0]
        for m in _TOKEN.finditer(code):
            tok = m.group(0)
            ends = tok.endswith(".") and not tok.startswith(("'", '"'))
            body = tok[:-1] if ends else tok
            if body:
                current.append(_Token(body.rstrip(","), lineno, first_col + m.start()))
            if ends and current:
                out.append(current)
                current = []
    if current:
        out.append(current)
    return out


def _parse_statement(tokens: list[_Token]) -> _Item | None:
    first = tokens[0]
    if not first.text.isdigit():
        raise CopybookError(f"{first.where()}: expected a level number, found {first.text!r}")
    level = int(first.text)
    if level == 88:
        return None  # condition names hold no storage
    name = tokens[1].text.upper() if len(tokens) > 1 else "FILLER"
    if level == 66:
        words = [t.text.upper() for t in tokens]
        if len(words) < 4 or words[2] != "RENAMES":
            raise CopybookError(f"{first.where()}: level 66 needs RENAMES name [THRU name]")
        thru = words[5] if len(words) > 5 and words[4] in ("THRU", "THROUGH") else None
        return _Item(level=66, name=name, line=first.line, renames=(words[3], thru))
    item = _Item(level=level, name=name, line=first.line)
    words = [t.text.upper() for t in tokens]

    def need(k: int, what: str) -> str:
        if k >= len(tokens):
            raise CopybookError(f"{tokens[-1].where()}: {what} expected after {tokens[-1].text!r}")
        return tokens[k].text

    i = 2
    while i < len(tokens):
        tok = words[i]
        if tok in ("PIC", "PICTURE"):
            i += 1
            if i < len(tokens) and words[i] == "IS":
                i += 1
            text = need(i, "a picture string")
            try:
                item.picture = parse_picture(text)
            except PictureError as exc:
                raise CopybookError(f"{tokens[i].where()}: {exc}") from exc
        elif tok in ("USAGE", "IS", "CHARACTER", "TIMES", "ON"):
            pass
        elif tok in _USAGES:
            item.usage = _USAGES[tok]
        elif tok == "REDEFINES":
            i += 1
            item.redefines = need(i, "a data name").upper()
        elif tok == "OCCURS":
            i += 1
            try:
                item.occurs = int(need(i, "a count"))
                if i + 2 < len(tokens) and words[i + 1] == "TO":
                    item.occurs = int(tokens[i + 2].text)  # OCCURS m TO n: layout holds n
                    i += 2
            except ValueError as exc:
                raise CopybookError(f"{tokens[i].where()}: OCCURS needs a number") from exc
        elif tok == "DEPENDING":
            i += 1
            if i < len(tokens) and words[i] == "ON":
                i += 1
            if i >= len(tokens):
                raise CopybookError(f"{tokens[i - 1].where()}: DEPENDING ON names no field")
            item.depending_on = words[i]
        elif tok in ("SYNC", "SYNCHRONIZED"):
            item.sync = True
        elif tok == "SIGN":
            item.sign_clause = True
        elif tok == "LEADING":
            item.sign_leading = True
        elif tok == "TRAILING":
            item.sign_leading = False
        elif tok == "SEPARATE":
            item.sign_separate = True
        elif tok in ("VALUE", "VALUES"):
            break  # initial values do not affect layout
        elif tok in ("INDEXED", "KEY"):
            # OCCURS … [ASCENDING|DESCENDING KEY IS name] [INDEXED BY name]: no storage
            i += 1
            if i < len(tokens) and words[i] in ("BY", "IS"):
                i += 1
        elif tok in _NO_STORAGE_WORDS:
            pass
        else:
            raise CopybookError(f"{tokens[i].where()}: unexpected {tokens[i].text!r}")
        i += 1
    return item


def _tree(items: list[_Item]) -> list[_Item]:
    """Nest items by level number; several 01 levels give several records."""
    roots: list[_Item] = []
    stack: list[_Item] = []
    for item in items:
        if item.level == 66:  # RENAMES regroups the record's own bytes: keep it at the root
            if not roots:
                raise CopybookError(f"line {item.line}: RENAMES before any record")
            roots[-1].children.append(item)
            continue
        level = 1 if item.level == 77 else item.level
        while stack and stack[-1].level >= level:
            stack.pop()
        if stack:
            stack[-1].children.append(item)
        else:
            roots.append(item)
        stack.append(item)
    return roots


def _alignment(item: _Item) -> int:
    """The boundary a SYNCHRONIZED elementary item starts on, as IBM Enterprise COBOL
    places it: binary halfwords on 2, fullwords and doublewords on 4, COMP-1 on 4, COMP-2
    on 8. DISPLAY and packed items are not moved by SYNC."""
    if not item.sync or item.children:
        return 1
    usage = item.usage or Usage.DISPLAY
    if usage is Usage.FLOAT:
        return 4
    if usage is Usage.DOUBLE:
        return 8
    if usage in (Usage.BINARY, Usage.NATIVE_BINARY) and item.picture is not None:
        return min(storage_size(item.picture, usage, False), 4)
    return 1


def _max_alignment(item: _Item) -> int:
    if not item.children:
        return _alignment(item)
    return max((_max_alignment(c) for c in item.children if not c.renames), default=1)


def _leading_slack(item: _Item, offset: int) -> int:
    """Slack bytes before `item` when its first byte is a synchronized item."""
    while item.children:
        kids = [c for c in item.children if not c.renames]
        if not kids:
            return 0
        item = kids[0]
    return -offset % _alignment(item)


def _inherit_sync(item: _Item, sync: bool = False) -> None:
    """SYNC on a group (IBM allows it on 01) synchronizes every item in it."""
    item.sync = item.sync or sync
    for child in item.children:
        _inherit_sync(child, item.sync)


class _Placer:
    """Lays out one record: offsets, OCCURS copies, the counters each copy depends on and
    the REDEFINES branch each field belongs to."""

    def __init__(self, fillers: str = "drop") -> None:
        self.fields: list[Field] = []
        self.branch_roots: set[str] = set()
        self.renames: list[_Item] = []
        self.keep_values = fillers in ("values", "all")
        self.keep_groups = fillers in ("groups", "all")
        self.filler_groups: set[str] = set()
        self.filler_values: set[str] = set()

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
        # SYNC in a table: slack before the first occurrence, and each occurrence padded to
        # a multiple of its largest boundary so every occurrence aligns like the first
        lead = _leading_slack(item, offset)
        align = _max_alignment(item)
        start = offset + lead
        one = 0
        for n in range(item.occurs):
            counter = f"{item.depending_on}{suffix}"  # resolved in finish() if outer
            # (counter, element, where the element's index sits in json_path)
            dep = (*depends, (counter, n + 1, len(base))) if item.depending_on else depends
            used = self.layout(item, start + n * one, f"{suffix}_{n + 1}", path, dep, (*base, n))
            if n == 0:
                one = -(-used // align) * align
        return lead + one * item.occurs

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
        if item.filler == "group":
            self.filler_groups.add(item.name)
        elif item.filler == "value":
            self.filler_values.add(item.name)
        if item.children:
            pos = end = offset
            starts: dict[str, int] = {}
            inner = (*path, item.name)
            for child in item.children:
                if child.renames:
                    self.renames.append(child)
                    continue
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
                # a REDEFINES larger than what it redefines pushes the next item out too
                pos = at + size if not child.redefines else max(pos, at + size)
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
        slack = -offset % _alignment(item)
        offset += slack
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
        return slack + size

    def _renamed(self, item: _Item) -> Field:
        """66 X RENAMES A [THRU B]: A alone (elementary) keeps its type; a range of bytes
        (or a group) reads as alphanumeric text."""
        first, last = item.renames

        def covered(name: str) -> list[Field]:
            found = [f for f in self.fields if f.name == name or name in f.path]
            if not found:
                raise CopybookError(f"line {item.line}: RENAMES names unknown item {name}")
            return found

        start_fields = covered(first)
        end_fields = covered(last) if last else start_fields
        start = min(f.offset for f in start_fields)
        end = max(f.offset + f.size for f in end_fields)
        if end <= start:
            raise CopybookError(f"line {item.line}: RENAMES {first} THRU {last} is empty")
        key = (self.fields[0].json_path[0], item.name)  # directly under the 01 record
        if last is None and len(start_fields) == 1 and start_fields[0].name == first:
            return replace(
                start_fields[0],
                name=item.name,
                level=66,
                json_path=key,
                branch=None,
                depends_on=(),
            )
        pic = Picture(text=f"X({end - start})", category="alphanumeric", length=end - start)
        return Field(
            name=item.name,
            offset=start,
            size=end - start,
            picture=pic,
            usage=Usage.DISPLAY,
            line=item.line,
            level=66,
            json_path=key,
        )

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
        self.fields += [self._renamed(item) for item in self.renames]
        fields = [
            f
            for f in self.fields
            if (self.keep_values or _OCCURS_SUFFIX.sub("", f.name) not in self.filler_values)
            and (self.keep_groups or not self.filler_groups.intersection(f.path))
        ]
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


FILLER_POLICIES = ("drop", "values", "groups", "all")


def _name_fillers(root: _Item, naming: str) -> None:
    """Give every FILLER a unique name, in source order: value fillers FILLER_P1, FILLER_P2…
    and group fillers FILLER_1, FILLER_2… ("sequence"), or FILLER_AFTER_<previous item>
    ("previous"), as Cobrix names them."""
    counts = {"value": 0, "group": 0}
    previous = root.name

    def walk(item: _Item) -> None:
        nonlocal previous
        for child in item.children:
            if child.name == "FILLER":
                kind = "group" if child.children else "value"
                counts[kind] += 1
                if naming == "previous":
                    child.name = f"FILLER_AFTER_{previous}"
                else:
                    child.name = f"FILLER_{'P' if kind == 'value' else ''}{counts[kind]}"
                child.filler = kind
            previous = child.name
            walk(child)

    walk(root)


def parse_copybook(
    text: str, *, free_format: bool = False, fillers: str = "drop", filler_naming: str = "sequence"
) -> dict[str, RecordLayout]:
    """Parse copybook text into its 01-level records, by name, in source order.

    FILLER items always keep their bytes in the layout. Whether they are returned as fields:
    `fillers` "drop" (default: neither elementary FILLERs nor anything inside a FILLER
    group), "values" (elementary ones), "groups" (what FILLER groups hold) or "all".
    """
    if fillers not in FILLER_POLICIES:
        raise CopybookError(f"filler policy {fillers!r}: one of {', '.join(FILLER_POLICIES)}")
    items = [it for st in _statements(text, free_format) if (it := _parse_statement(st))]
    if not items:
        raise CopybookError("copybook holds no data items")
    records: dict[str, RecordLayout] = {}
    for root in _tree(items):
        _inherit_sync(root)
        _name_fillers(root, filler_naming)
        placer = _Placer(fillers)
        size = placer.place(root, 0, "", (), ())
        records[root.name] = replace(placer.finish(root.name, size), tree=root)
    return records
