"""The CRM source's requests, as plain functions that take the REST client: paging the
object list, searching by last-modified below the 10,000-result cap, counting live objects,
reading associations and pipelines — and turning the answers into Arrow. No state lives
here; the resources in `__init__.py` decide what to ask for (`settings.py`: endpoints,
default properties, limits)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from pipelines.sources.crm import settings


def ts(value: str | None) -> datetime | None:
    """HubSpot's ISO-8601 timestamps ('…Z') as aware datetimes."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def list_pages(
    client: Any, object_type: str, properties: list[str], archived: bool
) -> Iterator[list[dict]]:
    """Every object of a type (live or archived), page by page, with its primary company
    inline where the type has one."""
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

    params = {
        "limit": settings.PAGE_LIMIT,
        "archived": str(archived).lower(),
        "properties": ",".join(properties),
    }
    if object_type in settings.ASSOCIATED_COMPANY:
        params["associations"] = "companies"
    paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
    yield from client.paginate(
        settings.OBJECTS.format(object_type=object_type),
        params=params,
        paginator=paginator,
        data_selector="results",
    )


def _search(client: Any, object_type: str, body: dict) -> dict:
    resp = client.post(settings.SEARCH.format(object_type=object_type), json=body)
    resp.raise_for_status()
    return resp.json()


def search_pages(
    client: Any, object_type: str, properties: list[str], since: str
) -> Iterator[list[dict]]:
    """Everything modified at or after `since`, ascending, page by page. HubSpot's search
    stops at 10,000 results: the window restarts at the last timestamp seen before the cap
    (its rows come again; the upsert by id absorbs them)."""
    prop = settings.LAST_MODIFIED[object_type]
    low = since
    while True:
        seen, last_ts, after = 0, low, None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [
                    {"filters": [{"propertyName": prop, "operator": "GTE", "value": low}]}
                ],
                "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                "properties": list(properties),
                "limit": settings.SEARCH_LIMIT,
            }
            if after:
                body["after"] = after
            data = _search(client, object_type, body)
            page = data["results"]
            if page:
                yield page
                seen += len(page)
                last_ts = page[-1]["updatedAt"]
            after = data.get("paging", {}).get("next", {}).get("after")
            if not after:
                return
            if seen + settings.SEARCH_LIMIT > settings.SEARCH_CAP:
                break
        if last_ts == low:
            raise RuntimeError(
                f"more than {settings.SEARCH_CAP} {object_type} share the modification time "
                f"{low}; cannot window the search"
            )
        low = last_ts


def live_created_by(client: Any, object_type: str, until: str) -> int:
    """The CRM's count of live objects created at or before `until` (one search)."""
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "createdate", "operator": "LTE", "value": until}]}
        ],
        "properties": ["hs_object_id"],
        "limit": 1,
    }
    return int(_search(client, object_type, body)["total"])


def read_companies_of(client: Any, object_type: str, ids: list[str]) -> dict[str, str | None]:
    """The primary company of objects that came from search (which returns no
    associations), in batches of the API's 100."""
    out: dict[str, str | None] = {}
    for i in range(0, len(ids), settings.BATCH_READ_LIMIT):
        resp = client.post(
            settings.ASSOCIATIONS_BATCH_READ.format(object_type=object_type),
            json={"inputs": [{"id": x} for x in ids[i : i + settings.BATCH_READ_LIMIT]]},
        )
        resp.raise_for_status()
        for r in resp.json()["results"]:
            if r["to"]:
                out[r["from"]["id"]] = str(r["to"][0]["toObjectId"])
    return out


def inline_company(row: dict) -> str | None:
    """The primary company a listed object carries inline."""
    found = row.get("associations", {}).get("companies", {}).get("results", [])
    return found[0]["id"] if found else None


def to_arrow(
    object_type: str, props: list[str], rows: list[dict], companies: dict[str, str | None]
) -> pa.Table:
    """CRM objects → the landed table: id, the requested properties as text, the primary
    company, created/updated/archived times."""
    cols: dict[str, pa.Array] = {
        "id": pa.array([int(r["id"]) for r in rows], type=pa.int64()),
    }
    for p in props:
        cols[p] = pa.array([r["properties"].get(p) for r in rows], type=pa.string())
    if object_type in settings.ASSOCIATED_COMPANY:
        cols["company_id"] = pa.array(
            [int(c) if (c := companies.get(r["id"])) else None for r in rows], type=pa.int64()
        )
    stamp = pa.timestamp("ms", tz="UTC")
    cols["created_at"] = pa.array([ts(r["createdAt"]) for r in rows], type=stamp)
    cols["updated_at"] = pa.array([ts(r["updatedAt"]) for r in rows], type=stamp)
    cols["archived"] = pa.array([bool(r.get("archived")) for r in rows], type=pa.bool_())
    cols["archived_at"] = pa.array([ts(r.get("archivedAt")) for r in rows], type=stamp)
    return pa.table(cols)


DEAL_STAGE_SCHEMA = pa.schema(
    [
        ("pipeline_id", pa.string()),
        ("pipeline_label", pa.string()),
        ("stage_id", pa.string()),
        ("stage_label", pa.string()),
        ("display_order", pa.int64()),
        ("probability", pa.string()),
        ("is_closed", pa.bool_()),
    ]
)


def deal_stage_rows(client: Any) -> list[dict]:
    """Every stage of every deal pipeline, with its win probability and whether it closes."""
    resp = client.get(settings.DEAL_PIPELINES)
    resp.raise_for_status()
    return [
        {
            "pipeline_id": pipeline["id"],
            "pipeline_label": pipeline["label"],
            "stage_id": stage["id"],
            "stage_label": stage["label"],
            "display_order": int(stage.get("displayOrder", 0)),
            "probability": stage.get("metadata", {}).get("probability"),
            "is_closed": stage.get("metadata", {}).get("isClosed") == "true",
        }
        for pipeline in resp.json()["results"]
        for stage in pipeline["stages"]
    ]
