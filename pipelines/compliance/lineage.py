"""Which warehouse columns carry personal data — found from the dbt lineage, not from tags.

A hand-written `personal` tag on a mart column is a promise nobody checks: a new mart that
selects a customer's name forgets it and the analysts see the name in clear. Here the
answer comes from the SQL itself. The roots are the data contracts
(pipelines/contracts/*.yml), which classify every source column that may land; every model
dbt compiled is parsed with sqlglot, and each of its output columns is traced to the source
and model columns it is computed from (projection, CASE conditions, window partitions — any
column the value depends on). A column is personal when any column it depends on is
personal; the walk follows dbt's DAG, so personal data is followed through staging,
intermediate models and marts however many steps away.

The only way out is a declaration in the model's YAML with its reason: `meta: {category:
financial|operational, extracts: <field>}` (a non-personal field taken out of a personal
structure, such as the credit limit in a journal before-image, checked against the
contract) or `meta: {category: ..., because: "<why>"}` (a value that depends on personal
data without revealing it, such as a flag saying whether an e-mail is present). A model the
parser cannot follow is masked whole (fail closed) and named in the warnings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

from pipelines.contracts import contracts, data_map_tables

# the relation each node compiles to, replaced by a plain identifier before parsing
# (sources compile to `delta_scan('<url>')`, which is not a table sqlglot can follow)
_PLACEHOLDER = "lb_relation_{}"
NOT_PERSONAL = ("financial", "operational")


class LineageError(ValueError):
    """The lineage cannot be worked out (no manifest, a source without a contract)."""


@dataclass
class PersonalColumns:
    """Per (schema, table): the personal columns and the source columns they come from."""

    columns: dict[tuple[str, str], dict[str, list[str]]] = field(default_factory=dict)
    declared_not_personal: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    unparsed: dict[tuple[str, str], str] = field(default_factory=dict)  # table → why

    def of(self, schema: str, table: str) -> list[str]:
        return sorted(self.columns.get((schema, table), {}))

    def to_json(self) -> dict:
        def flat(d: dict) -> dict:
            return {f"{s}.{t}": v for (s, t), v in d.items()}

        return {
            "columns": flat(self.columns),
            "declared_not_personal": flat(self.declared_not_personal),
            "unparsed": flat(self.unparsed),
        }

    @classmethod
    def from_json(cls, doc: dict) -> PersonalColumns:
        def nested(d: dict) -> dict:
            return {tuple(k.split(".", 1)): v for k, v in d.items()}

        return cls(
            nested(doc["columns"]),
            nested(doc["declared_not_personal"]),
            nested(doc["unparsed"]),
        )


def source_personal_columns(source: str, table: str) -> set[str]:
    """The personal columns of one dbt source table, from its data contract (or, for
    ledgerbridge's own tables, from compliance/data_map.yml)."""
    contract = contracts().get((source, table))
    if contract is not None:
        return set(contract.personal())
    for entry in data_map_tables():
        if entry["location"] == f"{source}/{table}":
            return set(entry["personal"])
    raise LineageError(
        f"dbt source {source}.{table} has no data contract: classify its columns in "
        f"pipelines/contracts/{source}.yml (or compliance/data_map.yml) before a model reads it"
    )


def _exemption(meta: dict) -> str | None:
    """The declared reason a lineage-personal column is not personal, if the YAML gives one."""
    if (meta or {}).get("category") not in NOT_PERSONAL:
        return None
    if meta.get("extracts"):
        return f"extracts {meta['extracts']}"
    if meta.get("because"):
        return str(meta["because"])
    return None


def _order(models: dict[str, dict]) -> list[str]:
    """Models in dependency order (dbt's DAG)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for dep in models[uid]["depends_on"]["nodes"]:
            if dep in models:
                visit(dep)
        done.append(uid)

    for uid in sorted(models):
        visit(uid)
    return done


def _leaves(node: Node) -> Iterable[tuple[str, str]]:
    """(relation, column) of every table column a lineage node depends on; the relation is
    a placeholder, or the SQL of a relation dbt did not name (a table function, a table
    written out by hand)."""
    for item in node.walk():
        if not item.downstream and isinstance(item.source, exp.Table):
            relation = item.source
            name = relation.name if relation.name.startswith("lb_relation_") else relation.sql()
            yield name, item.name.rsplit(".", 1)[-1]


def personal_columns_from_manifest(
    manifest: dict, columns_of: Callable[[str, dict], list[str] | None]
) -> PersonalColumns:
    """Trace every model of the manifest; `columns_of(relation, node)` lists a relation's
    columns (None when it cannot be read), for star expansion and the output columns."""
    nodes = {**manifest["nodes"], **manifest["sources"]}
    relations = {
        n["relation_name"]: uid
        for uid, n in nodes.items()
        if n.get("resource_type") in ("model", "seed", "source") and n.get("relation_name")
    }
    ordered = sorted(relations, key=len, reverse=True)  # longest first: no partial replace
    placeholder = {rel: _PLACEHOLDER.format(i) for i, rel in enumerate(ordered)}
    node_of = {placeholder[rel]: relations[rel] for rel in ordered}

    schema: dict[str, dict[str, str]] = {}
    personal: dict[str, set[str]] = {}  # node id → its personal columns
    for rel in ordered:
        uid = relations[rel]
        node = nodes[uid]
        cols = columns_of(rel, node)
        if cols is not None:
            schema[placeholder[rel]] = {c: "VARCHAR" for c in cols}
        if node["resource_type"] == "source":
            personal[uid] = source_personal_columns(node["source_name"], node["name"])
        elif node["resource_type"] == "seed":
            personal[uid] = set()

    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    out = PersonalColumns()
    for uid in _order(models):
        node = models[uid]
        key = (node["schema"], node.get("alias") or node["name"])
        outputs = columns_of(node["relation_name"], node) or []
        declared = {
            name: reason
            for name, col in (node.get("columns") or {}).items()
            if (reason := _exemption(col.get("meta") or {}))
        }
        sql = node.get("compiled_code")
        try:
            if not sql:
                raise LineageError("not compiled by the last dbt run")
            for rel in ordered:
                sql = sql.replace(rel, placeholder[rel])
            traced = lineage(None, sql, schema=schema, dialect="duckdb")
        except (SqlglotError, LineageError, RecursionError) as exc:
            out.unparsed[key] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            personal[uid] = set(outputs)
            out.columns[key] = {c: ["(lineage unknown: masked whole)"] for c in outputs}
            continue
        found: dict[str, list[str]] = {}
        for column in outputs:
            origin = traced.get(column)
            if origin is None:  # a column the parser did not see: fail closed
                found[column] = ["(lineage unknown)"]
                continue
            upstream = sorted(
                f"{nodes[node_of[rel]].get('name')}.{col}"
                if rel in node_of
                else f"(unknown relation {rel}: masked)"
                for rel, col in _leaves(origin)
                if rel not in node_of or col in personal.get(node_of[rel], ())
            )
            if upstream:
                found[column] = upstream
        for column in list(found):
            if column in declared:
                out.declared_not_personal.setdefault(key, {})[column] = declared[column]
                del found[column]
        personal[uid] = set(found)
        if found:
            out.columns[key] = found
    return out


def _delta_url(relation: str) -> str | None:
    match = re.fullmatch(r"delta_scan\('([^']+)'\)", relation.strip())
    return match.group(1) if match else None


def personal_columns(con: duckdb.DuckDBPyConnection, target: Path) -> PersonalColumns:
    """The personal columns of the warehouse `con` is attached to as `wh` (read-only),
    traced from the dbt manifest in `target`."""
    from deltalake import DeltaTable

    from pipelines.lake.object_store import storage_options

    manifest_path = target / "manifest.json"
    if not manifest_path.exists():
        raise LineageError(f"no dbt manifest at {manifest_path}: run `ledgerbridge build`")
    manifest = json.loads(manifest_path.read_text())
    catalog: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = 'wh' order by table_schema, table_name, ordinal_position"
    ).fetchall():
        catalog.setdefault((schema, table), []).append(column)

    def columns_of(relation: str, node: dict) -> list[str] | None:
        if node["resource_type"] != "source":
            return catalog.get((node["schema"], node.get("alias") or node["name"]))
        url = _delta_url(relation)
        if url is None:
            return None
        try:
            options = storage_options() if "://" in url and not url.startswith("file:") else {}
            return DeltaTable(url, storage_options=options or None).schema().to_arrow().names
        except Exception:  # a source not landed yet: its models did not build either
            return None

    fingerprint = _models_fingerprint(manifest)
    cache = target.parent / "personal_columns.json"
    complete = all(
        n.get("compiled_code") for n in manifest["nodes"].values() if n["resource_type"] == "model"
    )
    if not complete and cache.exists():
        # a partial dbt run (the journal increment) compiles only the models it selects;
        # the project is unchanged (else the build is a full one), so the lineage found
        # at the last full compile holds
        cached = json.loads(cache.read_text())
        if cached.get("fingerprint") == fingerprint:
            return PersonalColumns.from_json(cached["found"])
    found = personal_columns_from_manifest(manifest, columns_of)
    if complete:
        from pipelines.lake.storage import write_text_atomically

        write_text_atomically(
            cache, json.dumps({"fingerprint": fingerprint, "found": found.to_json()})
        )
    return found


def _models_fingerprint(manifest: dict) -> str:
    """The models' and sources' definitions (file checksums), not their compiled paths."""
    import hashlib

    digest = hashlib.sha256()
    for uid, node in sorted({**manifest["nodes"], **manifest["sources"]}.items()):
        checksum = (node.get("checksum") or {}).get("checksum", "")
        digest.update(f"{uid}={checksum}\n".encode())
    return digest.hexdigest()
