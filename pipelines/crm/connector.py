"""What ledgerbridge needs from a CRM, whichever it is.

Write-back, the schema-change report and the forecast talk to this interface only; HubSpot
is one implementation (hubspot.py). A Salesforce connector would implement the same calls
with SOQL, composite sObject collections and its metadata API.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class PropertySpec:
    """A custom property ledgerbridge writes (HubSpot: a property definition)."""

    name: str
    label: str
    type: str  # string, number, date, enumeration
    field_type: str  # text, number, date, select
    description: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordUpdate:
    object_id: str
    properties: dict[str, str]


@dataclass(frozen=True)
class UpdateOutcome:
    object_id: str
    ok: bool
    error: str | None = None
    updated_at: str | None = None  # the CRM's modification time of the record we wrote


@dataclass(frozen=True)
class DealStage:
    pipeline_id: str
    stage_id: str
    label: str
    probability: Decimal
    is_closed: bool


class CrmConnector(Protocol):
    """A CRM as ledgerbridge uses it. Every call is safe to repeat."""

    name: str
    batch_size: int  # records per update call

    def extract_source(
        self,
        properties: dict[str, list[str]],
        allow_schema_change: bool = False,
        suppressed: frozenset[str] = frozenset(),
        suppression_key: bytes = b"",
    ) -> object:
        """The dlt source landing the CRM's objects incrementally (only `properties`, never
        a contact whose e-mail is suppressed)."""
        ...

    def property_names(self, object_type: str) -> list[str]:
        """Names of every property the CRM defines for `object_type` (schema discovery)."""
        ...

    def ensure_properties(
        self, object_type: str, group: tuple[str, str], specs: list[PropertySpec]
    ) -> list[str]:
        """Create the property group and the properties that are missing; their names."""
        ...

    def update(self, object_type: str, updates: list[RecordUpdate]) -> list[UpdateOutcome]:
        """Set properties on existing records (at most `batch_size`), one outcome each."""
        ...

    def deal_stages(self) -> list[DealStage]:
        """Every stage of every deal pipeline, with its win probability."""
        ...

    def erase_contact(self, email: str) -> bool:
        """The CRM's own erasure of a person (GDPR Art. 17); False if unknown there."""
        ...
