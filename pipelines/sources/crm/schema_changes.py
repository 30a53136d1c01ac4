"""The CRM's property catalogue, watched: what the CRM adds or drops between runs.

Only configured properties are landed (data minimisation), so a property the CRM gains
does not flow in; it is reported instead, as is a configured property the CRM no longer
has. The catalogue seen last is kept in the lake (ops/crm_property_catalog.json); every
change is appended to a Delta table (ops/crm_schema_changes) and logged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import write_deltalake

from pipelines.crm.connector import CrmConnector
from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake

SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("detected_at", pa.timestamp("us", tz="UTC")),
        ("object_type", pa.string()),
        ("property", pa.string()),
        ("change", pa.string()),  # added, removed, configured_but_missing
        ("landed", pa.bool_()),
    ]
)


@dataclass(frozen=True)
class SchemaChange:
    object_type: str
    property: str
    change: str
    landed: bool


def detect_schema_changes(
    lake: Lake, connector: CrmConnector, landed: dict[str, list[str]], run_id: str
) -> list[SchemaChange]:
    """Compare the CRM's property names now with the last run's; record what changed."""
    path = lake.crm_property_catalog
    before: dict[str, list[str]] = json.loads(path.read_text()) if path.exists() else {}
    now = {t: sorted(connector.property_names(t)) for t in landed}
    changes: list[SchemaChange] = []
    for t, names in now.items():
        have, wanted = set(names), set(landed[t])
        changes += [
            SchemaChange(t, p, "configured_but_missing", True) for p in sorted(wanted - have)
        ]
        if t not in before:
            continue  # first sight of this type: the catalogue is the baseline
        seen = set(before[t])
        changes += [SchemaChange(t, p, "added", p in wanted) for p in sorted(have - seen)]
        changes += [SchemaChange(t, p, "removed", p in wanted) for p in sorted(seen - have)]
    if changes:
        at = datetime.now(UTC)
        rows = [asdict(c) | {"run_id": run_id, "detected_at": at} for c in changes]
        fence()
        write_deltalake(
            str(lake.crm_schema_changes), pa.Table.from_pylist(rows, SCHEMA), mode="append"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(before | now, indent=1))
    return changes
