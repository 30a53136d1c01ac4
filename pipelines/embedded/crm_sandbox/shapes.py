"""How the sandbox answers, in HubSpot's shapes: objects with string ids and properties,
error bodies, timestamps; shared by every route module of the sandbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import JSONResponse

SEARCH_CAP = 10_000
SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal"}
DEFAULT_PROPERTIES = {
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate"),
    "contacts": ("firstname", "lastname", "email", "createdate", "lastmodifieddate"),
    "deals": (
        "dealname",
        "amount",
        "closedate",
        "dealstage",
        "pipeline",
        "createdate",
        "hs_lastmodifieddate",
    ),
}


def error(status: int, message: str, category: str, **extra: object) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return JSONResponse(body, status_code=status)


def truthy(value: str | None) -> bool:
    return (value or "").lower() == "true"


def to_iso(value: str) -> str:
    """A filter value (epoch milliseconds or ISO-8601) → the store's ISO form."""
    if value.isdigit():
        dt = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    else:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shape(obj: dict, wanted: list[str] | None, object_type: str) -> dict:
    props = obj["properties"]
    names = wanted if wanted else DEFAULT_PROPERTIES[object_type]
    out = {n: (None if props.get(n) is None else str(props[n])) for n in names if n in props}
    out["hs_object_id"] = str(obj["id"])
    shaped = {
        "id": str(obj["id"]),
        "properties": out,
        "createdAt": obj["createdAt"],
        "updatedAt": obj["updatedAt"],
        "archived": obj["archived"],
    }
    if obj["archived"]:
        shaped["archivedAt"] = obj["archivedAt"]
    return shaped


def properties_param(request: Request) -> list[str] | None:
    values = request.query_params.getlist("properties")
    names = [p for v in values for p in v.split(",") if p]
    return names or None
