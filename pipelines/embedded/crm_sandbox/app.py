"""The HubSpot CRM v3 subset ledgerbridge uses, served from the sandbox store.

Faithful where clients can tell: string ids and property values, `paging.next.after`,
`archived` in any capitalisation, repeated or comma-separated `properties`, the search
endpoint's filters/sorts and its 10,000-result cap, batch shapes, HubSpot-style error bodies,
and 429 + Retry-After with `X-HubSpot-RateLimit-*` headers when a token goes too fast.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pipelines.embedded.crm_sandbox import portal
from pipelines.embedded.crm_sandbox.edits import not_found, register_edits, unknown_properties
from pipelines.embedded.crm_sandbox.search import SearchError, compile_search
from pipelines.embedded.crm_sandbox.shapes import (
    SEARCH_CAP,
    SINGULAR,
    error,
    properties_param,
    shape,
    truthy,
)
from pipelines.embedded.crm_sandbox.store import OBJECT_TYPES, CrmStore, now_iso


class RateLimiter:
    """Sliding window per token, like HubSpot's per-10-seconds burst limit."""

    def __init__(self, max_requests: int, interval_s: float = 10.0) -> None:
        self.max = max_requests
        self.interval = interval_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, token: str) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until a slot frees)."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(token, deque())
            while hits and now - hits[0] >= self.interval:
                hits.popleft()
            if len(hits) >= self.max:
                return False, 0, self.interval - (now - hits[0])
            hits.append(now)
            return True, self.max - len(hits), 0.0


def create_app(
    store: CrmStore, token: str, max_requests_per_10s: int = 1000, rate_interval_s: float = 10.0
) -> FastAPI:
    """`rate_interval_s` shortens HubSpot's 10-second window (tests of 429 handling)."""
    app = FastAPI(title="ledgerbridge CRM sandbox (HubSpot CRM v3 subset)")
    limiter = RateLimiter(max_requests_per_10s, rate_interval_s)
    app.state.limited = 0  # requests answered 429 so far
    app.state.archive_pages = Counter()  # pages of the archived list served, per object type

    @app.middleware("http")
    async def auth_and_rate_limit(request: Request, call_next):  # noqa: ANN001
        header = request.headers.get("authorization", "")
        if header != f"Bearer {token}":
            return error(
                401, "Authentication credentials not found or invalid.", "INVALID_AUTHENTICATION"
            )
        allowed, remaining, wait = limiter.check(token)
        limits = {
            "X-HubSpot-RateLimit-Max": str(limiter.max),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(limiter.interval * 1000)),
        }
        if not allowed:
            app.state.limited += 1
            resp = error(
                429,
                "You have reached your ten_secondly_rolling limit.",
                "RATE_LIMITS",
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
            )
            resp.headers.update(limits | {"Retry-After": str(max(1, math.ceil(wait)))})
            return resp
        response = await call_next(request)
        response.headers.update(limits)
        return response

    def _check_type(object_type: str) -> JSONResponse | None:
        if object_type not in OBJECT_TYPES:
            return error(
                400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR"
            )
        return None

    def _with_associations(object_type: str, results: list[dict], assoc: list[str]) -> None:
        ids = [int(r["id"]) for r in results]
        for to_type in assoc:
            links = store.associations(object_type, ids, to_type)
            for r in results:
                found = links.get(int(r["id"]), [])
                if found:
                    r.setdefault("associations", {})[to_type] = {
                        "results": [
                            {
                                "id": str(t),
                                "type": f"{SINGULAR[object_type]}_to_{SINGULAR[to_type]}",
                            }
                            for t in found
                        ]
                    }

    register_edits(app, store, lambda t: {d["name"] for d in _definitions(t)})

    @app.get("/crm/v3/objects/{object_type}")
    def list_objects(
        object_type: str,
        request: Request,
        limit: int = 10,
        after: str = "0",
        archived: str = "false",
        associations: str = "",
    ):
        if bad := _check_type(object_type):
            return bad
        limit = max(1, min(limit, 100))
        try:
            after_id = int(after)
        except ValueError:
            return error(400, f"Invalid 'after' value: {after}", "VALIDATION_ERROR")
        if truthy(archived):
            app.state.archive_pages[object_type] += 1
        rows = store.page(object_type, after_id, limit + 1, truthy(archived))
        wanted = properties_param(request)
        results = [shape(r, wanted, object_type) for r in rows[:limit]]
        _with_associations(object_type, results, [a for a in associations.split(",") if a])
        body: dict = {"results": results}
        if len(rows) > limit:
            nxt = results[-1]["id"]
            body["paging"] = {"next": {"after": nxt, "link": f"{request.url.path}?after={nxt}"}}
        return body

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    def get_object(object_type: str, object_id: str, request: Request, archived: str = "false"):
        if bad := _check_type(object_type):
            return bad
        obj = (
            store.get(object_type, int(object_id), truthy(archived))
            if object_id.isdigit()
            else None
        )
        if obj is None:
            return error(404, "Object not found.", "OBJECT_NOT_FOUND")
        return shape(obj, properties_param(request), object_type)

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(object_type: str, request: Request):
        if bad := _check_type(object_type):
            return bad
        body = await request.json()
        limit = max(1, min(int(body.get("limit", 10)), 200))
        offset = int(body.get("after") or 0)
        if offset + limit > SEARCH_CAP:
            return error(
                400,
                f"The search API returns at most {SEARCH_CAP} results; narrow the filter.",
                "VALIDATION_ERROR",
            )
        types = {d["name"]: d.get("type", "string") for d in _definitions(object_type)}
        try:
            q = compile_search(object_type, body, types)
        except SearchError as exc:
            return error(400, str(exc), "VALIDATION_ERROR")
        if q.time_only:  # the incremental extract's shape: served from the time index
            total, rows = store.search(object_type, q.time_conditions, offset, limit)
        else:
            total, rows = store.query(object_type, q.where, q.args, q.order, offset, limit)
        wanted = body.get("properties") or None
        out: dict = {"total": total, "results": [shape(r, wanted, object_type) for r in rows]}
        if offset + len(rows) < total:
            out["paging"] = {"next": {"after": str(offset + len(rows))}}
        return out

    @app.post("/crm/v3/objects/contacts/gdpr-delete")
    async def gdpr_delete(request: Request):
        """HubSpot's GDPR delete: by id, or by e-mail with idProperty=email; 204."""
        body = await request.json()
        object_id = str(body.get("objectId", ""))
        if not object_id:
            return error(400, "objectId is required", "VALIDATION_ERROR")
        if body.get("idProperty") == "email":
            found = store.find_by_property("contacts", "email", object_id)
        else:
            found = int(object_id) if object_id.isdigit() else None
        if found is None or not store.erase("contacts", found):
            return error(404, "Object not found", "OBJECT_NOT_FOUND")
        return Response(status_code=204)

    @app.post("/crm/v3/objects/{object_type}/batch/update")
    async def batch_update(object_type: str, request: Request):
        if bad := _check_type(object_type):
            return bad
        inputs = (await request.json()).get("inputs", [])
        if len(inputs) > 100:
            return error(400, "Batch size exceeds 100 inputs", "VALIDATION_ERROR")
        known = {d["name"] for d in _definitions(object_type)}
        # HubSpot rejects the whole batch, naming each property
        named = {p: None for i in inputs for p in i.get("properties", {})}
        if bad := unknown_properties(named, known):
            return bad
        started = now_iso()
        results, errors = [], []
        for item in inputs:
            obj = store.update_properties(object_type, int(item["id"]), item.get("properties", {}))
            if obj is None:
                errors.append(not_found(item["id"]))
            else:
                results.append(shape(obj, list(item.get("properties", {})), object_type))
        body = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        return JSONResponse(body, status_code=207 if errors else 200)

    def _definitions(object_type: str) -> list[dict]:
        return portal.built_in_definitions(object_type) + store.property_definitions(object_type)

    def _groups(object_type: str) -> list[dict]:
        name, label = portal.GROUPS[object_type]
        built_in = {"name": name, "label": label, "displayOrder": 0, "archived": False}
        return [built_in, *store.property_definitions(f"{object_type}#groups")]

    @app.get("/crm/v3/properties/{object_type}")
    def list_properties(object_type: str, archived: str = "false"):
        if bad := _check_type(object_type):
            return bad
        return {"results": [] if truthy(archived) else _definitions(object_type)}

    @app.get("/crm/v3/properties/{object_type}/groups")
    def list_groups(object_type: str):
        if bad := _check_type(object_type):
            return bad
        return {"results": _groups(object_type)}

    @app.post("/crm/v3/properties/{object_type}/groups")
    async def create_group(object_type: str, request: Request):
        if bad := _check_type(object_type):
            return bad
        body = await request.json()
        if not body.get("name") or not body.get("label"):
            return error(400, "A property group needs name and label", "VALIDATION_ERROR")
        group = {
            "name": body["name"],
            "label": body["label"],
            "displayOrder": int(body.get("displayOrder", -1)),
            "archived": False,
        }
        if any(g["name"] == group["name"] for g in _groups(object_type)):
            return error(409, f"Property group {group['name']} already exists", "CONFLICT")
        store.put_property_definition(f"{object_type}#groups", group)
        return JSONResponse(group, status_code=201)

    @app.get("/crm/v3/properties/{object_type}/{name}")
    def get_property(object_type: str, name: str):
        if bad := _check_type(object_type):
            return bad
        for d in _definitions(object_type):
            if d["name"] == name:
                return d
        return error(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")

    @app.post("/crm/v3/properties/{object_type}")
    async def create_property(object_type: str, request: Request):
        if bad := _check_type(object_type):
            return bad
        body = await request.json()
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            return error(
                400, f"Property definition is missing {', '.join(missing)}", "VALIDATION_ERROR"
            )
        if body["groupName"] not in {g["name"] for g in _groups(object_type)}:
            return error(
                400, f"Property group {body['groupName']} does not exist", "VALIDATION_ERROR"
            )
        if any(d["name"] == body["name"] for d in _definitions(object_type)):
            return error(409, f"Property named {body['name']} already exists", "CONFLICT")
        definition = portal.property_definition(
            body["name"],
            body["type"],
            body["fieldType"],
            body["groupName"],
            custom=True,
            label=body["label"],
        ) | {"description": body.get("description", ""), "options": body.get("options", [])}
        store.put_property_definition(object_type, definition)
        return JSONResponse(definition, status_code=201)

    @app.get("/crm/v3/pipelines/{object_type}")
    def list_pipelines(object_type: str):
        if object_type != "deals":
            return error(
                400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR"
            )
        return {"results": [portal.deal_pipeline("2025-01-01T00:00:00.000Z")]}

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def associations_read(from_type: str, to_type: str, request: Request):
        inputs = (await request.json()).get("inputs", [])
        ids = [int(i["id"]) for i in inputs]
        links = store.associations(from_type, ids, to_type)
        results = [
            {
                "from": {"id": str(i)},
                "to": [
                    {
                        "toObjectId": t,
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}
                        ],
                    }
                    for t in links[i]
                ],
            }
            for i in ids
            if i in links
        ]
        return {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now_iso(),
            "completedAt": now_iso(),
        }

    return app
