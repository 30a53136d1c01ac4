"""The sandbox's data, kept in SQLite in the lake's landing zone.

SQLite because the sandbox must hold a million objects, page them by id and search them by
last-modified time without loading them into memory, and survive restarts between runs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

OBJECT_TYPES = ("companies", "contacts", "deals")
# The property HubSpot's search filters and sorts on for "last modified", per object type.
LAST_MODIFIED = {
    "companies": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}

_SCHEMA = """
create table if not exists objects (
    object_type text not null,
    id integer not null,
    properties text not null,
    created_at text not null,
    updated_at text not null,
    archived integer not null default 0,
    archived_at text,
    primary key (object_type, id)
);
create index if not exists objects_modified on objects (object_type, archived, updated_at, id);
create index if not exists objects_created on objects (object_type, archived, created_at);
create table if not exists associations (
    from_type text not null, from_id integer not null,
    to_type text not null, to_id integer not null,
    primary key (from_type, from_id, to_type, to_id)
);
create table if not exists property_definitions (
    object_type text not null, name text not null, definition text not null,
    primary key (object_type, name)
);
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CrmStore:
    """Thread-safe access to the sandbox database (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # another process may hold the database (a `serve` beside a `run`): wait for it
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        # an erased contact's bytes are zeroed, not left in free pages
        self._db.execute("pragma secure_delete = on")
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.executescript(_SCHEMA)
        from pipelines.embedded.crm_sandbox.search import contains_token

        self._db.create_function("contains_token", 2, contains_token, deterministic=True)
        self._lock = threading.Lock()
        # told of every edit made through the API: (object type, id, change, properties)
        self.listeners: list[Callable[[str, int, str, dict], None]] = []

    def _notify(self, object_type: str, object_id: int, change: str, props: dict) -> None:
        for listener in self.listeners:
            listener(object_type, object_id, change, props)

    def close(self) -> None:
        self._db.close()

    # ---------- writes (generator and API)
    def insert_objects(self, object_type: str, rows: Iterable[tuple]) -> None:
        """rows: (id, properties dict, created_at, updated_at, archived, archived_at)."""
        with self._lock:
            self._db.execute("begin")
            self._db.executemany(
                "insert or replace into objects values (?, ?, ?, ?, ?, ?, ?)",
                (
                    (object_type, i, json.dumps(p, ensure_ascii=False), c, u, int(a), aa)
                    for i, p, c, u, a, aa in rows
                ),
            )
            self._db.execute("commit")

    def insert_associations(self, rows: Iterable[tuple[str, int, str, int]]) -> None:
        """rows: (from_type, from_id, to_type, to_id); both directions are stored."""
        both = [r for f, fi, t, ti in rows for r in ((f, fi, t, ti), (t, ti, f, fi))]
        with self._lock:
            self._db.execute("begin")
            self._db.executemany("insert or ignore into associations values (?, ?, ?, ?)", both)
            self._db.execute("commit")

    def create_object(self, object_type: str, props: dict) -> dict:
        """A new live object (id one above the highest), stamped created and modified now."""
        stamp = now_iso()
        with self._lock:
            self._db.execute("begin immediate")
            (top,) = self._db.execute(
                "select coalesce(max(id), 0) from objects where object_type=?", (object_type,)
            ).fetchone()
            new_id = int(top) + 1
            props = {k: v for k, v in props.items() if v is not None}
            props |= {"createdate": stamp, LAST_MODIFIED[object_type]: stamp}
            self._db.execute(
                "insert into objects values (?, ?, ?, ?, ?, 0, null)",
                (object_type, new_id, json.dumps(props, ensure_ascii=False), stamp, stamp),
            )
            self._db.execute("commit")
        self._notify(object_type, new_id, "creation", props)
        return self.get(object_type, new_id)  # type: ignore[return-value]

    def update_properties(self, object_type: str, object_id: int, props: dict) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "select properties from objects where object_type=? and id=? and archived=0",
                (object_type, object_id),
            ).fetchone()
            if row is None:
                return None
            merged = json.loads(row[0]) | props
            stamp = now_iso()
            merged[LAST_MODIFIED[object_type]] = stamp
            self._db.execute(
                "update objects set properties=?, updated_at=? where object_type=? and id=?",
                (json.dumps(merged, ensure_ascii=False), stamp, object_type, object_id),
            )
        self._notify(object_type, object_id, "propertyChange", props)
        return self.get(object_type, object_id)

    def archive(self, object_type: str, object_id: int) -> bool:
        stamp = now_iso()
        with self._lock:
            cur = self._db.execute(
                "update objects set archived=1, archived_at=?, updated_at=? "
                "where object_type=? and id=? and archived=0",
                (stamp, stamp, object_type, object_id),
            )
        if cur.rowcount == 1:
            self._notify(object_type, object_id, "deletion", {})
        return cur.rowcount == 1

    def erase(self, object_type: str, object_id: int) -> bool:
        """GDPR delete: the object and its associations are gone for good (not archived)."""
        with self._lock:
            self._db.execute("begin")
            cur = self._db.execute(
                "delete from objects where object_type=? and id=?", (object_type, object_id)
            )
            self._db.execute(
                "delete from associations where (from_type=? and from_id=?) "
                "or (to_type=? and to_id=?)",
                (object_type, object_id, object_type, object_id),
            )
            self._db.execute("commit")
        return cur.rowcount == 1

    def find_by_property(self, object_type: str, name: str, value: str) -> int | None:
        """Id of the (live or archived) object whose property `name` equals `value`."""
        with self._lock:
            row = self._db.execute(
                "select id from objects where object_type=? "
                "and lower(json_extract(properties, '$.' || ?)) = lower(?) limit 1",
                (object_type, name, value),
            ).fetchone()
        return row[0] if row else None

    def put_property_definition(self, object_type: str, definition: dict) -> bool:
        """Store a property definition; False if one of that name exists."""
        with self._lock:
            cur = self._db.execute(
                "insert or ignore into property_definitions values (?, ?, ?)",
                (object_type, definition["name"], json.dumps(definition)),
            )
        return cur.rowcount == 1

    # ---------- reads
    def _row(self, row: tuple) -> dict:
        oid, props, created, updated, archived, archived_at = row
        return {
            "id": oid,
            "properties": json.loads(props),
            "createdAt": created,
            "updatedAt": updated,
            "archived": bool(archived),
            "archivedAt": archived_at,
        }

    def get(self, object_type: str, object_id: int, archived: bool = False) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "select id, properties, created_at, updated_at, archived, archived_at "
                "from objects where object_type=? and id=? and archived=?",
                (object_type, object_id, int(archived)),
            ).fetchone()
        return self._row(row) if row else None

    def page(self, object_type: str, after: int, limit: int, archived: bool) -> list[dict]:
        """Objects by ascending id, keyset-paged: `after` is the last id of the previous page."""
        with self._lock:
            rows = self._db.execute(
                "select id, properties, created_at, updated_at, archived, archived_at "
                "from objects where object_type=? and archived=? and id>? order by id limit ?",
                (object_type, int(archived), after, limit),
            ).fetchall()
        return [self._row(r) for r in rows]

    def search(
        self,
        object_type: str,
        conditions: list[tuple[str, str, str]],
        offset: int,
        limit: int,
    ) -> tuple[int, list[dict]]:
        """Live objects matching every (column, operator, value) condition on `updated_at`
        or `created_at`, oldest modification first (then by id); and how many match."""
        operators = {"GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}
        where = ["object_type=?", "archived=0"]
        args: list[object] = [object_type]
        for column, op, value in conditions:
            if column not in ("updated_at", "created_at") or op not in operators:
                raise ValueError(f"unsupported search condition {column} {op}")
            where.append(f"{column} {operators[op]} ?")
            args.append(value)
        cond = " and ".join(where)
        with self._lock:
            total = self._db.execute(f"select count(*) from objects where {cond}", args).fetchone()[
                0
            ]
            rows = self._db.execute(
                # in the order of the results: the first page never sorts the whole table
                "select id, properties, created_at, updated_at, archived, archived_at "
                f"from objects indexed by objects_modified where {cond} "
                "order by updated_at, id limit ? offset ?",
                [*args, limit, offset],
            ).fetchall()
        return total, [self._row(r) for r in rows]

    def query(
        self, object_type: str, where: str, args: list[object], order: str, offset: int, limit: int
    ) -> tuple[int, list[dict]]:
        """Live objects matching a compiled search (search.py), in its order; and how many."""
        cond = f"object_type=? and archived=0 and {where}"
        with self._lock:
            (total,) = self._db.execute(
                f"select count(*) from objects where {cond}", [object_type, *args]
            ).fetchone()
            rows = self._db.execute(
                "select id, properties, created_at, updated_at, archived, archived_at "
                f"from objects where {cond} order by {order} limit ? offset ?",
                [object_type, *args, limit, offset],
            ).fetchall()
        return total, [self._row(r) for r in rows]

    def associations(self, from_type: str, ids: list[int], to_type: str) -> dict[int, list[int]]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"select from_id, to_id from associations where from_type=? and to_type=? "
                f"and from_id in ({marks}) order by from_id, to_id",
                [from_type, to_type, *ids],
            ).fetchall()
        out: dict[int, list[int]] = {}
        for f, t in rows:
            out.setdefault(f, []).append(t)
        return out

    def property_definitions(self, object_type: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "select definition from property_definitions where object_type=? order by name",
                (object_type,),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, object_type: str, archived: bool | None = None) -> int:
        sql = "select count(*) from objects where object_type=?"
        args: list[object] = [object_type]
        if archived is not None:
            sql += " and archived=?"
            args.append(int(archived))
        with self._lock:
            return self._db.execute(sql, args).fetchone()[0]
