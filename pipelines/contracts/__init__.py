"""Data contracts: one YAML per source declares every column that may land — its category
(personal, financial, operational) — and each table's purpose, legal basis and retention.

`enforce` is applied to every batch before it lands: a column the contract does not declare
is dropped and reported (logged, and listed in the run summary), so a new copybook field or
CRM property never reaches the lake before someone has classified it. The same contracts
are the register of processing the DSAR export and the erasure read (compliance/).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import structlog
import yaml

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
SOURCES = ("legacy", "legacy_cdc", "crm")
CATEGORIES = ("personal", "financial", "operational")
_undeclared: dict[str, list[str]] = {}


class ContractError(ValueError):
    """A contract file is malformed (unknown category, missing field)."""


@dataclass(frozen=True)
class TableContract:
    source: str
    table: str
    origin: str  # the system and object the rows come from
    purpose: str
    legal_basis: str
    retention: str
    columns: dict[str, str]  # column → category

    @property
    def location(self) -> str:
        return f"bronze/{self.source}/{self.table}"

    def personal(self) -> list[str]:
        return [c for c, k in self.columns.items() if k == "personal"]


@functools.cache
def contracts() -> dict[tuple[str, str], TableContract]:
    raw = {s: yaml.safe_load((HERE / f"{s}.yml").read_text()) for s in SOURCES}
    out: dict[tuple[str, str], TableContract] = {}
    for source, doc in raw.items():
        for table, spec in doc["tables"].items():
            columns = dict(doc.get("lineage_columns") or {})
            if "image" in spec:  # journal tables carry the image columns of a legacy feed
                image = raw["legacy"]["tables"][spec["image"]]["columns"]
                columns.update(image)
            columns.update(spec.get("columns") or {})
            bad = sorted(c for c, k in columns.items() if k not in CATEGORIES)
            if bad:
                raise ContractError(
                    f"contracts/{source}.yml table {table}: columns {', '.join(bad)} have no "
                    f"category of {', '.join(CATEGORIES)}"
                )
            out[(source, table)] = TableContract(
                source,
                table,
                spec["source"],
                spec["purpose"],
                spec["legal_basis"],
                spec["retention"],
                columns,
            )
    return out


def enforce(source: str, table: str, batch: pa.Table) -> pa.Table:
    """The batch with only the columns the contract declares; the rest is reported."""
    contract = contracts().get((source, table))
    if contract is None:
        raise ContractError(f"no data contract for {source}.{table}: add it to contracts/")
    extra = [c for c in batch.column_names if c not in contract.columns]
    if not extra:
        return batch
    key = f"{source}.{table}"
    new = [c for c in extra if c not in _undeclared.get(key, [])]
    if new:
        _undeclared.setdefault(key, []).extend(new)
        log.warning("undeclared_columns_not_landed", table=key, columns=new)
    return batch.drop_columns(extra)


def undeclared_seen() -> dict[str, list[str]]:
    """Columns dropped for want of a declaration in this process (for the run summary)."""
    return {k: list(v) for k, v in _undeclared.items()}


def data_map_tables() -> list[dict]:
    """Where personal data lives, why and how long: the contracts' tables plus the tables
    of ledgerbridge's own (compliance/data_map.yml)."""
    own = yaml.safe_load((HERE.parent / "compliance" / "data_map.yml").read_text())
    tables = [
        {
            "location": c.location,
            "source": c.origin,
            "purpose": c.purpose,
            "legal_basis": c.legal_basis,
            "retention": c.retention,
            "personal": c.personal(),
        }
        for c in contracts().values()
    ]
    return tables + own["tables"]
