"""HubSpot's search request → SQL over the sandbox store, as a sales team's filters need it.

Filter groups are ORed, the filters of a group ANDed (at most 5 groups of 6 filters, as
HubSpot allows). Operators: EQ, NEQ, LT, LTE, GT, GTE, BETWEEN, IN, NOT_IN, HAS_PROPERTY,
NOT_HAS_PROPERTY, CONTAINS_TOKEN, NOT_CONTAINS_TOKEN. Any property can be filtered and
sorted on: `hs_object_id` is the id, `createdate` and the last-modified property are the
object's times, others are read from its properties — compared as numbers for number
properties, as instants for dates, case-insensitively as text otherwise.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from pipelines.embedded.crm_sandbox.shapes import to_iso
from pipelines.embedded.crm_sandbox.store import LAST_MODIFIED

MAX_GROUPS = 5
MAX_FILTERS = 6
COMPARISONS = {"LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
_TOKENS = re.compile(r"[\w@.+-]+", re.UNICODE)


class SearchError(ValueError):
    """A request HubSpot would refuse with 400 (the message says why)."""


def contains_token(text: str | None, token: str | None) -> bool:
    """HubSpot's CONTAINS_TOKEN: a whole word of the value matches the token (case-insensitive;
    `*` is a wildcard, e.g. `*@example.de`)."""
    if text is None or token is None:
        return False
    pattern = token.lower()
    words = [w.lower() for w in _TOKENS.findall(str(text))]
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(w, pattern) for w in words) or fnmatch.fnmatchcase(
            str(text).lower(), pattern
        )
    return pattern in words or pattern == str(text).lower()


@dataclass
class Compiled:
    where: str
    args: list[object] = field(default_factory=list)
    order: str = "id"
    # only the object's modification/creation time is filtered, ascending by modification:
    # the store's indexed search serves it without a scan
    time_only: bool = False
    time_conditions: list[tuple[str, str, str]] = field(default_factory=list)


def _kind(name: str, object_type: str, types: dict[str, str]) -> str:
    if name == "hs_object_id":
        return "id"
    if name in ("createdate", LAST_MODIFIED[object_type]):
        return "time"
    return {"number": "number", "datetime": "date", "date": "date"}.get(types.get(name, ""), "text")


def _column(name: str, object_type: str, kind: str) -> str:
    if kind == "id":
        return "id"
    if kind == "time":
        return "created_at" if name == "createdate" else "updated_at"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SearchError(f"There is no property named {name!r}")
    raw = f"json_extract(properties, '$.{name}')"
    return f"cast({raw} as real)" if kind == "number" else raw


def _value(raw: object, kind: str) -> object:
    if kind == "id":
        return int(str(raw))
    if kind == "number":
        return float(str(raw))
    if kind in ("time", "date"):
        return to_iso(str(raw))
    return str(raw).lower()


def _condition(f: dict, object_type: str, types: dict[str, str], args: list[object]) -> str:
    name = f.get("propertyName") or ""
    op = f.get("operator") or "EQ"
    kind = _kind(name, object_type, types)
    col = _column(name, object_type, kind)
    text = kind == "text"
    cmp_col = f"lower({col})" if text else col
    try:
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            present = f"({col} is not null and {col} <> '')" if text else f"{col} is not null"
            return present if op == "HAS_PROPERTY" else f"not {present}"
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            args.append(str(f.get("value", "")))
            found = f"contains_token({col}, ?)"
            return found if op == "CONTAINS_TOKEN" else f"not {found}"
        if op in ("IN", "NOT_IN"):
            values = [_value(v, kind) for v in f.get("values") or []]
            if not values:
                raise SearchError(f"{op} on {name} needs a list of values")
            args.extend(values)
            marks = ",".join("?" * len(values))
            inside = f"{cmp_col} in ({marks})"
            return inside if op == "IN" else f"({col} is null or {cmp_col} not in ({marks}))"
        if op == "BETWEEN":
            args += [_value(f.get("value"), kind), _value(f.get("highValue"), kind)]
            return f"{cmp_col} between ? and ?"
        if op in ("EQ", "NEQ"):
            args.append(_value(f.get("value"), kind))
            return f"{cmp_col} = ?" if op == "EQ" else f"({col} is null or {cmp_col} <> ?)"
        if op in COMPARISONS:
            args.append(_value(f.get("value"), kind))
            return f"{cmp_col} {COMPARISONS[op]} ?"
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SearchError):
            raise
        raise SearchError(f"{name} {op}: {f.get('value')!r} is not a valid value") from exc
    raise SearchError(f"Unsupported operator {op}")


def compile_search(object_type: str, body: dict, types: dict[str, str]) -> Compiled:
    """The body of `POST /crm/v3/objects/{type}/search` → WHERE and ORDER BY."""
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS or any(len(g.get("filters", [])) > MAX_FILTERS for g in groups):
        raise SearchError(
            f"At most {MAX_GROUPS} filter groups of {MAX_FILTERS} filters each are allowed"
        )
    args: list[object] = []
    ored = []
    for g in groups:
        anded = [_condition(f, object_type, types, args) for f in g.get("filters", [])]
        if anded:
            ored.append("(" + " and ".join(anded) + ")")
    where = "(" + " or ".join(ored) + ")" if ored else "1=1"
    order = []
    for s in body.get("sorts") or []:
        if isinstance(s, str):  # the plain form: a property name, ascending
            s = {"propertyName": s, "direction": "ASCENDING"}
        name = s.get("propertyName") or ""
        kind = _kind(name, object_type, types)
        desc = str(s.get("direction", "ASCENDING")).upper().startswith("DESC")
        order.append(f"{_column(name, object_type, kind)} {'desc' if desc else 'asc'}")
    compiled = Compiled(where, args, ", ".join([*order, "id"]))
    # the incremental extract's shape: one group of time comparisons, by modification
    filters = [f for g in groups for f in g.get("filters", [])]
    sorts = body.get("sorts") or []
    if len(groups) <= 1 and all(
        _kind(f.get("propertyName") or "", object_type, types) == "time"
        and f.get("operator") in COMPARISONS
        for f in filters
    ):
        by_modification = [{"propertyName": LAST_MODIFIED[object_type], "direction": "ASCENDING"}]
        if not sorts or sorts == by_modification:
            compiled.time_only = True
            compiled.time_conditions = [
                (
                    _column(f["propertyName"], object_type, "time"),
                    f["operator"],
                    to_iso(str(f.get("value"))),
                )
                for f in filters
            ]
    return compiled
