"""The edits a sales team makes, as HubSpot's v3 objects API takes them: create, update
(PATCH), archive — single and batch — batch read, and the v4 associations of one object.

Unknown properties are refused whole, naming each one, as HubSpot does; an object that
does not exist is a 404 (single) or an error entry of a 207 (batch).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from pipelines.embedded.crm_sandbox.shapes import error, shape, truthy
from pipelines.embedded.crm_sandbox.store import OBJECT_TYPES, CrmStore, now_iso

BATCH_LIMIT = 100
# HubSpot's association type ids (HUBSPOT_DEFINED) between the sandbox's object types
ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): 1,
    ("companies", "contacts"): 2,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 5,
    ("companies", "deals"): 6,
}


def unknown_properties(properties: dict, known: set[str]) -> JSONResponse | None:
    """HubSpot's 400 naming every property that does not exist (None: all exist)."""
    unknown = sorted(p for p in properties if p not in known)
    if not unknown:
        return None
    return error(
        400,
        "Property values were not valid",
        "VALIDATION_ERROR",
        errors=[
            {
                "message": f'Property "{name}" does not exist',
                "code": "PROPERTY_DOESNT_EXIST",
                "context": {"propertyName": [name]},
            }
            for name in unknown
        ],
    )


def not_found(object_id: object) -> dict:
    """A batch's error entry for an id that does not exist (HubSpot's StandardError)."""
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Object {object_id} not found",
        "context": {"ids": [str(object_id)]},
        "errors": [],
        "links": {},
    }


def _batch(results: list[dict], errors: list[dict], started: str, ok: int = 200) -> JSONResponse:
    body: dict = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now_iso(),
    }
    if errors:
        body |= {"numErrors": len(errors), "errors": errors}
    return JSONResponse(body, status_code=207 if errors else ok)


def register_edits(
    app: FastAPI, store: CrmStore, known_properties: Callable[[str], set[str]]
) -> None:
    """Add the edit routes to the sandbox app."""

    def bad_type(object_type: str) -> JSONResponse | None:
        if object_type in OBJECT_TYPES:
            return None
        return error(400, f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR")

    def associate(object_type: str, object_id: int, associations: list[dict]) -> None:
        rows = []
        for a in associations or []:
            to_id = int(a.get("to", {}).get("id", 0))
            for to_type in OBJECT_TYPES:
                if to_type != object_type and store.get(to_type, to_id) is not None:
                    rows.append((object_type, object_id, to_type, to_id))
                    break
        if rows:
            store.insert_associations(rows)

    def create_one(object_type: str, item: dict) -> dict:
        obj = store.create_object(object_type, item.get("properties") or {})
        associate(object_type, int(obj["id"]), item.get("associations") or [])
        return shape(obj, list(item.get("properties") or {}) or None, object_type)

    @app.post("/crm/v3/objects/{object_type}")
    async def create(object_type: str, request: Request):
        if bad := bad_type(object_type):
            return bad
        item = await request.json()
        if bad := unknown_properties(item.get("properties") or {}, known_properties(object_type)):
            return bad
        return JSONResponse(create_one(object_type, item), status_code=201)

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update(object_type: str, object_id: str, request: Request):
        if bad := bad_type(object_type):
            return bad
        props = (await request.json()).get("properties") or {}
        if bad := unknown_properties(props, known_properties(object_type)):
            return bad
        obj = (
            store.update_properties(object_type, int(object_id), props)
            if object_id.isdigit()
            else None
        )
        if obj is None:
            return error(404, "Object not found.", "OBJECT_NOT_FOUND")
        return shape(obj, list(props) or None, object_type)

    @app.delete("/crm/v3/objects/{object_type}/{object_id}")
    def archive(object_type: str, object_id: str):
        if bad := bad_type(object_type):
            return bad
        if not object_id.isdigit() or not store.archive(object_type, int(object_id)):
            return error(404, "Object not found.", "OBJECT_NOT_FOUND")
        return Response(status_code=204)

    @app.post("/crm/v3/objects/{object_type}/batch/create")
    async def batch_create(object_type: str, request: Request):
        if bad := bad_type(object_type):
            return bad
        inputs = (await request.json()).get("inputs", [])
        if len(inputs) > BATCH_LIMIT:
            return error(400, f"Batch size exceeds {BATCH_LIMIT} inputs", "VALIDATION_ERROR")
        known = known_properties(object_type)
        for item in inputs:
            if bad := unknown_properties(item.get("properties") or {}, known):
                return bad
        started = now_iso()
        return _batch([create_one(object_type, i) for i in inputs], [], started, ok=201)

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def batch_read(object_type: str, request: Request, archived: str = "false"):
        if bad := bad_type(object_type):
            return bad
        body = await request.json()
        inputs = body.get("inputs", [])
        if len(inputs) > BATCH_LIMIT:
            return error(400, f"Batch size exceeds {BATCH_LIMIT} inputs", "VALIDATION_ERROR")
        id_property = body.get("idProperty")
        wanted = body.get("properties") or None
        started = now_iso()
        results, errors = [], []
        for item in inputs:
            key = str(item.get("id", ""))
            if id_property and id_property != "hs_object_id":
                found = store.find_by_property(object_type, id_property, key)
            else:
                found = int(key) if key.isdigit() else None
            obj = store.get(object_type, found, truthy(archived)) if found is not None else None
            if obj is None:
                errors.append(not_found(key))
            else:
                results.append(shape(obj, wanted, object_type))
        return _batch(results, errors, started)

    @app.post("/crm/v3/objects/{object_type}/batch/archive")
    async def batch_archive(object_type: str, request: Request):
        if bad := bad_type(object_type):
            return bad
        inputs = (await request.json()).get("inputs", [])
        if len(inputs) > BATCH_LIMIT:
            return error(400, f"Batch size exceeds {BATCH_LIMIT} inputs", "VALIDATION_ERROR")
        for item in inputs:  # archiving what is archived or absent is not an error here
            key = str(item.get("id", ""))
            if key.isdigit():
                store.archive(object_type, int(key))
        return Response(status_code=204)

    @app.get("/crm/v4/objects/{object_type}/{object_id}/associations/{to_type}")
    def associations_of(object_type: str, object_id: str, to_type: str):
        for t in (object_type, to_type):
            if bad := bad_type(t):
                return bad
        if not object_id.isdigit() or store.get(object_type, int(object_id)) is None:
            return error(404, "Object not found.", "OBJECT_NOT_FOUND")
        linked = store.associations(object_type, [int(object_id)], to_type).get(int(object_id), [])
        type_id = ASSOCIATION_TYPE_IDS.get((object_type, to_type))
        results = [
            {
                "toObjectId": to_id,
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                ],
            }
            for to_id in linked
        ]
        return {"results": results}
