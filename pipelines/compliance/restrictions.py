"""The restriction register: customers whose records are kept only for the legal retention
period (GDPR Art. 18, § 35(3) BDSG), with the day they become erasable.

A Delta table (`ops/restrictions`): extracts consult it, so a later delivery of the same
customer lands pseudonymised; dbt reads it, so the marts flag restricted customers with
their erasable day; `ledgerbridge retention` erases what has reached its day. It holds
customer numbers and dates only — no personal values.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from pipelines.compliance.pseudonyms import pseudonym
from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake

# the customer master's columns that identify a person (data_map.yml, bronze/legacy/customers)
PERSONAL_MASTER_COLUMNS = (
    "cm_name", "cm_street", "cm_postcode", "cm_city", "cm_iban", "cm_contact", "cm_email",
    "cm_vat_id",
)  # fmt: skip


SCHEMA = pa.schema(
    [
        ("customer", pa.int64()),
        ("restricted_on", pa.date32()),
        ("erasable_on", pa.date32()),
        ("reason", pa.string()),
    ]
)


def location(lake: Lake) -> str:
    return str(lake.restriction_register)


def entries(lake: Lake) -> list[dict]:
    """The register's rows (dates as ISO text)."""
    try:
        rows = DeltaTable(location(lake)).to_pyarrow_table().to_pylist()
    except (TableNotFoundError, FileNotFoundError):
        return []
    return [
        {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()} for row in rows
    ]


def restricted_customers(lake: Lake) -> set[int]:
    return {int(e["customer"]) for e in entries(lake)}


def register(lake: Lake, customers: list[int], today: date, until: date | None) -> None:
    current = {int(e["customer"]): e for e in entries(lake)}
    for c in customers:
        current[c] = {
            "customer": c,
            "restricted_on": today.isoformat(),
            "erasable_on": until.isoformat() if until else None,
            "reason": "erasure request; accounting records under retention (HGB § 257, AO § 147)",
        }
    _write(lake, sorted(current.values(), key=lambda e: e["customer"]))


def remove(lake: Lake, customers: set[int]) -> None:
    _write(lake, [e for e in entries(lake) if int(e["customer"]) not in customers])


def _write(lake: Lake, rows: list[dict]) -> None:
    """Replace the register (one commit; the previous versions hold no personal data)."""
    table = pa.Table.from_pylist(
        [
            {
                "customer": int(r["customer"]),
                "restricted_on": _day(r.get("restricted_on")),
                "erasable_on": _day(r.get("erasable_on")),
                "reason": r.get("reason"),
            }
            for r in rows
        ],
        SCHEMA,
    )
    fence()
    write_deltalake(location(lake), table, mode="overwrite")


def set_erasable_on(lake: Lake, customer: int, day: date) -> None:
    """Move a customer's erasable day (a corrected retention calculation)."""
    _write(
        lake,
        [
            r | {"erasable_on": day.isoformat()} if int(r["customer"]) == customer else r
            for r in entries(lake)
        ],
    )


def _day(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def pseudonymise_rows(values: pa.ChunkedArray | pa.Array, key: bytes, mask: pa.Array) -> pa.Array:
    """The masked rows' values replaced by keyed pseudonyms (structs: their text fields)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_struct(values.type):
        children = [
            pseudonymise_rows(values.field(i), key, mask)
            if pa.types.is_string(values.type.field(i).type)
            and values.type.field(i).name
            not in ("cm_rec_type", "cm_country", "cm_currency", "cm_pay_terms", "cm_status")
            else values.field(i)
            for i in range(values.type.num_fields)
        ]
        return pa.StructArray.from_arrays(children, fields=list(values.type), mask=values.is_null())
    if not pa.types.is_string(values.type):
        return pc.if_else(mask, pa.scalar(None, values.type), values)
    replaced = [
        pseudonym(key, v) if m and v is not None and not v.startswith("p_") else v
        for v, m in zip(values.to_pylist(), mask.to_pylist(), strict=True)
    ]
    return pa.array(replaced, pa.string())


def restrict_batch(table: pa.Table, customers: set[int], key: bytes) -> pa.Table:
    """A customer-master batch with the restricted customers' personal fields pseudonymised
    (applied before landing, so a re-delivered extract does not bring the clear values back)."""
    if not customers or "cm_cust_no" not in table.column_names or not table.num_rows:
        return table
    mask = pc.fill_null(
        pc.is_in(table["cm_cust_no"], pa.array(sorted(customers), table["cm_cust_no"].type)),
        False,
    )
    if not pc.any(mask).as_py():
        return table
    for name in PERSONAL_MASTER_COLUMNS:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, pseudonymise_rows(table[name], key, mask))
    return table
