"""Flat decoded rows → nested records (groups as objects, OCCURS as arrays) and exact JSON.

Decimals are written as JSON numbers with every digit (never through a float); OCCURS
DEPENDING ON arrays hold only the elements the counter says exist.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal

from pipelines.copybook.model import RecordLayout


def _insert(node: dict | list, keys: tuple[str | int, ...], value: object) -> None:
    key = keys[0]
    if isinstance(node, list):
        while len(node) <= key:  # type: ignore[operator]
            node.append(None)
    if len(keys) == 1:
        node[key] = value  # type: ignore[index]
        return
    empty: dict | list = [] if isinstance(keys[1], int) else {}
    if isinstance(node, list):
        if node[key] is None:  # type: ignore[index]
            node[key] = empty  # type: ignore[index]
        child = node[key]  # type: ignore[index]
    else:
        child = node.setdefault(key, empty)
    _insert(child, keys[1:], value)


def _ensure_array(node: dict | list, keys: tuple[str | int, ...]) -> None:
    """Create the containers along `keys`, ending in a list, unless they exist."""
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        empty: dict | list = [] if last or isinstance(keys[i + 1], int) else {}
        if isinstance(node, list):
            while len(node) <= key:  # type: ignore[operator]
                node.append({})
            node = node[key]  # type: ignore[index]
        else:
            node = node.setdefault(key, empty)


def nest(row: dict[str, object], layout: RecordLayout) -> dict[str, object]:
    """One decoded row as the copybook's nested shape, keyed by the names as written."""
    out: dict[str, object] = {}
    counters = {f.name: f.column for f in layout.fields}
    for f in layout.fields:
        absent = [at for c, k, at in f.depends_on if (row.get(counters.get(c, "")) or 0) < k]
        if absent:
            # past an OCCURS DEPENDING ON counter: the element does not exist, but its
            # array does (empty when the counter is 0)
            _ensure_array(out, f.json_path[1 : absent[0]])
            continue
        _insert(out, f.json_path[1:], row[f.column])
        debug = f"{f.column}_debug"
        if debug in row:  # --debug: the raw bytes beside the value, as Cobrix places them
            path = f.json_path[1:]
            last = max(i for i, k in enumerate(path) if isinstance(k, str))
            _insert(out, (*path[:last], f"{path[last]}_debug", *path[last + 1 :]), row[debug])
    return out


def to_json(value: object) -> str:
    """JSON with decimals exact, dates ISO, bytes base64."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    if isinstance(value, bytes):
        return json.dumps(base64.b64encode(value).decode())
    return json.dumps(value, ensure_ascii=False)


def assemble_hierarchy(
    records: Iterable[tuple[dict[str, object], str]], children: dict[str, list[str]]
) -> Iterator[dict[str, object]]:
    """Parent/child segments → one nested object per root segment.

    `records` yields (nested record, its REDEFINES branch) in file order; `children` maps a
    branch to the branches of its child segments (COMPANY → DEPT, CUSTOMER). A child goes
    into an array named after its branch inside the latest record of its parent's branch.
    Records before the first root, or whose parent has not appeared, are skipped.
    """
    parent_of = {kid: parent for parent, kids in children.items() for kid in kids}
    roots = {p for p in children if p not in parent_of}
    current: dict[str, dict[str, object]] = {}
    root: dict[str, object] | None = None
    for record, branch in records:
        if branch in roots:
            if root is not None:
                yield root
            root = {
                k: v
                for k, v in record.items()
                if k == branch or (k not in parent_of and k not in roots)
            }
            current = {branch: root[branch]}  # type: ignore[dict-item]
            for kid in children.get(branch, []):
                root[branch].setdefault(kid, [])  # type: ignore[union-attr]
            continue
        parent = parent_of.get(branch)
        if root is None or parent not in current:
            continue
        node = record.get(branch)
        current[parent].setdefault(branch, []).append(node)  # type: ignore[union-attr]
        current[branch] = node  # type: ignore[assignment]
        for kid in children.get(branch, []):
            node.setdefault(kid, [])  # type: ignore[union-attr]
            current.pop(kid, None)
    if root is not None:
        yield root
