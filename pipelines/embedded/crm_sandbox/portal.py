"""What a HubSpot portal defines before anyone writes to it: built-in property definitions,
their groups, and the default deal pipeline with its stage probabilities.

The sandbox answers the properties and pipelines APIs from these (plus what clients create),
so connectors can discover the schema and read stage probabilities as on a real portal.
Each type also carries built-in properties ledgerbridge does not land, as a real portal does.
"""

from __future__ import annotations

KINDS = {  # kind → (type, fieldType), as HubSpot names them
    "text": ("string", "text"),
    "number": ("number", "number"),
    "date": ("datetime", "date"),
    "enum": ("enumeration", "select"),
}
# per object type: its property group, and its built-in properties by kind
_DEFINED: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "companies": (
        "companyinformation",
        {
            "text": ("name", "domain", "city", "country", "phone", "vat_id", "erp_customer_number"),
            "enum": ("industry", "hubspot_owner_id"),
            "number": ("annualrevenue",),
            "date": ("createdate", "hs_lastmodifieddate"),
        },
    ),
    "contacts": (
        "contactinformation",
        {
            "text": ("firstname", "lastname", "email", "phone", "mobilephone", "jobtitle"),
            "enum": ("hs_lead_status",),
            "date": ("createdate", "lastmodifieddate"),
        },
    ),
    "deals": (
        "dealinformation",
        {
            "text": ("dealname", "contract_reference"),
            "number": ("amount",),
            "date": ("closedate", "createdate", "hs_lastmodifieddate"),
            "enum": (
                "dealstage",
                "pipeline",
                "deal_currency_code",
                "hs_priority",
                "hubspot_owner_id",
            ),
        },
    ),
}

BUILT_IN: dict[str, dict[str, tuple[str, str, str]]] = {
    object_type: {name: (*KINDS[kind], group) for kind, names in by_kind.items() for name in names}
    for object_type, (group, by_kind) in _DEFINED.items()
}

GROUPS = {
    "companies": ("companyinformation", "Company information"),
    "contacts": ("contactinformation", "Contact information"),
    "deals": ("dealinformation", "Deal information"),
}

# HubSpot's default sales pipeline, with the win probability each stage carries
DEAL_STAGES: tuple[tuple[str, str, float, bool], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", 0.2, False),
    ("qualifiedtobuy", "Qualified To Buy", 0.4, False),
    ("presentationscheduled", "Presentation Scheduled", 0.6, False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False),
    ("contractsent", "Contract Sent", 0.9, False),
    ("closedwon", "Closed Won", 1.0, True),
    ("closedlost", "Closed Lost", 0.0, True),
)


def property_definition(
    name: str, kind: str, field_type: str, group: str, *, custom: bool = False, label: str = ""
) -> dict:
    """A property as the properties API returns it (the fields the official client needs)."""
    return {
        "name": name,
        "label": label or name.replace("_", " ").title(),
        "type": kind,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": [],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": not custom,
        "formField": False,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": False,
        },
    }


def built_in_definitions(object_type: str) -> list[dict]:
    return [
        property_definition(name, kind, field, group)
        for name, (kind, field, group) in BUILT_IN[object_type].items()
    ]


def deal_pipeline(stamp: str) -> dict:
    """The default deal pipeline as `GET /crm/v3/pipelines/deals` returns it."""
    return {
        "id": "default",
        "label": "Sales Pipeline",
        "displayOrder": 0,
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "stages": [
            {
                "id": sid,
                "label": label,
                "displayOrder": i,
                "archived": False,
                "createdAt": stamp,
                "updatedAt": stamp,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                "metadata": {"isClosed": str(closed).lower(), "probability": str(p)},
            }
            for i, (sid, label, p, closed) in enumerate(DEAL_STAGES)
        ],
    }
