"""dlt source for the CRM (HubSpot CRM v3 objects API), incremental on last-modified.

First run: page the full list (no search cap). Later runs: the search endpoint with
`last-modified >= cursor`, sorted ascending, restarting the window at the last timestamp
seen before the 10,000-result cap so nothing is skipped; overlaps are harmless (upsert by id).
Archived objects land once as rows marked `archived` (with the time), not deleted. HubSpot
lists them only in full (no time filter: ~1,000 requests at a million objects, against a
burst limit of 100–190 per 10 s), so an incremental run first asks whether anything was
archived at all: the search `total` of live objects created up to the cursor, one request,
against the objects landed live up to the cursor plus those this run's search returned.
After the search every live object of that age is landed, so equal counts mean none of them
was archived or deleted; any difference (or a failed count) lists the archive as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

from pipelines.contracts import enforce
from pipelines.sources.crm import settings

ARCHIVE_SLACK = timedelta(hours=1)
log = structlog.get_logger(__name__)

# Ids of the objects of a type landed live (not archived) and created at or before a time;
# None when nothing was landed yet.
LandedLive = Callable[[str, datetime], "pa.Array | None"]


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _to_arrow(
    object_type: str, props: list[str], rows: list[dict], companies: dict[str, str | None]
) -> pa.Table:
    cols: dict[str, pa.Array] = {
        "id": pa.array([int(r["id"]) for r in rows], type=pa.int64()),
    }
    for p in props:
        cols[p] = pa.array([r["properties"].get(p) for r in rows], type=pa.string())
    if object_type in settings.ASSOCIATED_COMPANY:
        cols["company_id"] = pa.array(
            [int(c) if (c := companies.get(r["id"])) else None for r in rows], type=pa.int64()
        )
    ts = pa.timestamp("ms", tz="UTC")
    cols["created_at"] = pa.array([_ts(r["createdAt"]) for r in rows], type=ts)
    cols["updated_at"] = pa.array([_ts(r["updatedAt"]) for r in rows], type=ts)
    cols["archived"] = pa.array([bool(r.get("archived")) for r in rows], type=pa.bool_())
    cols["archived_at"] = pa.array([_ts(r.get("archivedAt")) for r in rows], type=ts)
    return pa.table(cols)


def _inline_company(row: dict) -> str | None:
    found = row.get("associations", {}).get("companies", {}).get("results", [])
    return found[0]["id"] if found else None


def properties_to_land(configured: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """The configured properties per object type (default: settings.PROPERTIES), checked."""
    chosen = {t: list(v) for t, v in (configured or settings.PROPERTIES).items()}
    unknown = sorted(set(chosen) - set(settings.PROPERTIES))
    if unknown:
        raise ValueError(
            f"crm_properties: unknown object type(s) {', '.join(unknown)}; "
            f"known: {', '.join(settings.PROPERTIES)}"
        )
    return chosen


@dlt.source(name="crm", max_table_nesting=0)
def crm_source(  # noqa: ANN201
    base_url: str = dlt.config.value,
    token: str = dlt.secrets.value,
    properties: dict[str, list[str]] | None = None,
    allow_schema_change: bool = False,
    suppressed: frozenset[str] = frozenset(),
    suppression_key: bytes = b"",
    landed_live: LandedLive | None = None,
):
    """`properties`: what to request and land per object type (data minimisation). The
    landed tables' columns are frozen: a run whose configuration adds a column fails
    unless `allow_schema_change` (a deliberate change) is given. `suppressed`: keyed
    hashes (compliance/suppression.py) of e-mails whose contacts are never landed.
    `landed_live`: what the lake holds live, for the archive check (without it, the
    archive is listed on every run)."""
    client = RESTClient(base_url=base_url, auth=BearerTokenAuth(token))
    landed = properties_to_land(properties)

    def is_suppressed(row: dict) -> bool:
        """A person on the suppression list (erased on request) never lands again."""
        email = row.get("properties", {}).get("email")
        if not suppressed or not email:
            return False
        from pipelines.compliance.suppression import token as suppression_token

        return suppression_token(suppression_key, email) in suppressed

    contract = "evolve" if allow_schema_change else "freeze"

    def read_companies_of(object_type: str, ids: list[str]) -> dict[str, str | None]:
        """Associations for objects that came from search (which does not return them)."""
        out: dict[str, str | None] = {}
        for i in range(0, len(ids), 100):
            resp = client.post(
                f"/crm/v4/associations/{object_type}/companies/batch/read",
                json={"inputs": [{"id": x} for x in ids[i : i + 100]]},
            )
            resp.raise_for_status()
            for r in resp.json()["results"]:
                if r["to"]:
                    out[r["from"]["id"]] = str(r["to"][0]["toObjectId"])
        return out

    def list_pages(object_type: str, archived: bool) -> Iterator[list[dict]]:
        params = {
            "limit": settings.PAGE_LIMIT,
            "archived": str(archived).lower(),
            "properties": ",".join(landed[object_type]),
        }
        if object_type in settings.ASSOCIATED_COMPANY:
            params["associations"] = "companies"
        paginator = JSONResponseCursorPaginator(
            cursor_path="paging.next.after", cursor_param="after"
        )
        yield from client.paginate(
            f"/crm/v3/objects/{object_type}",
            params=params,
            paginator=paginator,
            data_selector="results",
        )

    def search_pages(object_type: str, since: str) -> Iterator[list[dict]]:
        """Everything modified at or after `since`, windowed below the search cap."""
        prop = settings.LAST_MODIFIED[object_type]
        low = since
        while True:
            seen = 0
            last_ts = low
            after: str | None = None
            while True:
                body = {
                    "filterGroups": [
                        {"filters": [{"propertyName": prop, "operator": "GTE", "value": low}]}
                    ],
                    "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
                    "properties": list(landed[object_type]),
                    "limit": settings.SEARCH_LIMIT,
                }
                if after:
                    body["after"] = after
                resp = client.post(f"/crm/v3/objects/{object_type}/search", json=body)
                resp.raise_for_status()
                data = resp.json()
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
                    f"more than {settings.SEARCH_CAP} {object_type} share the "
                    f"modification time {low}; cannot window the search"
                )
            low = last_ts  # restart the window; GTE repeats the boundary rows, upsert dedups

    def live_created_by(object_type: str, until: str) -> int:
        """The CRM's count of live objects created at or before `until` (one search)."""
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": "createdate", "operator": "LTE", "value": until}]}
            ],
            "properties": ["hs_object_id"],
            "limit": 1,
        }
        resp = client.post(f"/crm/v3/objects/{object_type}/search", json=body)
        resp.raise_for_status()
        return int(resp.json()["total"])

    def archive_unchanged(object_type: str, cursor: str, seen_live: list[int]) -> bool:
        """True when no object landed live and created by `cursor` has been archived or
        deleted since: the CRM counts as many live ones as the lake now holds."""
        if landed_live is None:
            return False
        landed = landed_live(object_type, _ts(cursor))
        if landed is None:
            return False
        seen = pa.array(sorted(set(seen_live)), type=pa.int64())
        ours = len(landed) + (pc.sum(pc.invert(pc.is_in(seen, value_set=landed))).as_py() or 0)
        theirs = live_created_by(object_type, cursor)
        log.info(
            "crm_archive_check",
            object_type=object_type,
            crm_live=theirs,
            landed_live=ours,
            listing_archive=ours != theirs,
        )
        return ours == theirs

    def make_resource(object_type: str):
        @dlt.resource(
            name=object_type,
            table_format="delta",
            primary_key="id",
            write_disposition={"disposition": "merge", "strategy": "upsert"},
            schema_contract={"tables": "evolve", "columns": contract, "data_type": contract},
        )
        def objects() -> Iterator[pa.Table]:
            state = dlt.current.resource_state()
            cursor = state.get("cursor")
            if state.get("properties", landed[object_type]) != landed[object_type]:
                # the landed properties changed: page everything again, so every record
                # gets the new columns (and the frozen schema contract sees them)
                cursor, state["ids_at_cursor"] = None, []
            state["properties"] = list(landed[object_type])
            # the search is `>= cursor`: the rows at exactly the cursor were landed by the last
            # run; skipping them (same id, same modification time) keeps a run with nothing
            # new from merging anything, so it writes no Delta version
            at_cursor = {(i, cursor) for i in state.get("ids_at_cursor", [])}
            archived_landed = {tuple(x) for x in state.get("archived_landed", [])}
            seen_archived: set[tuple[str, str]] = set()
            # One version per id per load: Delta MERGE refuses duplicate source keys, and
            # windowed search repeats boundary rows. A newer version of an id already sent
            # in this load is left for the next run by holding the cursor back.
            buf: dict[str, dict] = {}
            sent: set[int] = set()
            companies: dict[str, str | None] = {}
            newest = cursor
            seen_live: list[int] = []  # live objects of this run created by the cursor
            held_back: str | None = None
            ids_at: dict[str, set[str]] = {}
            if cursor:
                ids_at[cursor] = {i for i, _ in at_cursor}

            def add(rows: list[dict]) -> None:
                nonlocal held_back
                for r in rows:
                    if is_suppressed(r):
                        continue
                    if (r["id"], r["updatedAt"]) in at_cursor and not r.get("archived"):
                        continue
                    if r.get("archived"):
                        mark = (r["id"], r.get("archivedAt") or "")
                        seen_archived.add(mark)
                        if mark in archived_landed:
                            continue
                    if int(r["id"]) in sent:
                        if not r.get("archived"):
                            stamp = r["updatedAt"]
                            held_back = min(held_back or stamp, stamp)
                        continue
                    known = buf.get(r["id"])
                    if known is None or r["updatedAt"] >= known["updatedAt"]:
                        buf[r["id"]] = r

            def flush() -> pa.Table:
                rows = list(buf.values())
                table = enforce(
                    "crm", object_type, _to_arrow(object_type, landed[object_type], rows, companies)
                )
                sent.update(int(r["id"]) for r in rows)
                buf.clear()
                companies.clear()
                return table

            pages = (
                list_pages(object_type, False)
                if cursor is None
                else search_pages(object_type, cursor)
            )
            for page in pages:
                if object_type in settings.ASSOCIATED_COMPANY:
                    if cursor is None:
                        companies.update({r["id"]: _inline_company(r) for r in page})
                    else:
                        companies.update(read_companies_of(object_type, [r["id"] for r in page]))
                add(page)
                for r in page:
                    ids_at.setdefault(r["updatedAt"], set()).add(r["id"])
                    if cursor is not None and _ts(r["createdAt"]) <= _ts(cursor):
                        seen_live.append(int(r["id"]))
                newest = max([newest or "", *(r["updatedAt"] for r in page)])
                if len(buf) >= settings.BATCH_ROWS:
                    yield flush()
            # the list of archived objects has no time filter: those archived well before
            # the cursor were landed by an earlier run (an hour of slack covers the race of
            # an archive during that run); they are paged but not landed again
            swept = cursor is None or not archive_unchanged(object_type, cursor, seen_live)
            settled = _ts(cursor) - ARCHIVE_SLACK if cursor else None
            for page in list_pages(object_type, True) if swept else ():
                if settled is not None:
                    page = [
                        r
                        for r in page
                        if not r.get("archivedAt") or _ts(r["archivedAt"]) >= settled
                    ]
                if object_type in settings.ASSOCIATED_COMPANY:
                    companies.update({r["id"]: _inline_company(r) for r in page})
                add(page)
                if len(buf) >= settings.BATCH_ROWS:
                    yield flush()
            if buf:
                yield flush()
            if newest:
                state["cursor"] = min(newest, held_back) if held_back else newest
                if state["cursor"] == newest:
                    state["ids_at_cursor"] = sorted(ids_at.get(newest, set()))
                else:
                    state["ids_at_cursor"] = []
            # only the marks the next run's time filter lets through are kept: the state
            # stays small (it is read and written on every run) however many objects the
            # archive holds
            keep = _ts(state["cursor"]) - ARCHIVE_SLACK if state.get("cursor") else None
            state["archived_landed"] = sorted(
                m
                for m in (seen_archived if swept else archived_landed)
                if keep is None or not m[1] or _ts(m[1]) >= keep
            )

        return objects

    @dlt.resource(
        name="deal_stages",
        table_format="delta",
        primary_key=("pipeline_id", "stage_id"),
        # upserted when the definitions changed (a replace with nothing new would truncate)
        write_disposition={"disposition": "merge", "strategy": "upsert"},
    )
    def deal_stages() -> Iterator[pa.Table]:
        """The deal pipelines' stages with their win probability, landed when they changed."""
        resp = client.get("/crm/v3/pipelines/deals")
        resp.raise_for_status()
        rows = [
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
        import hashlib
        import json

        state = dlt.current.source_state()
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
        if state.get("deal_stages_digest") == digest:
            return  # unchanged: nothing replaced, no new Delta version
        state["deal_stages_digest"] = digest
        yield enforce(
            "crm",
            "deal_stages",
            pa.Table.from_pylist(
                rows,
                pa.schema(
                    [
                        ("pipeline_id", pa.string()),
                        ("pipeline_label", pa.string()),
                        ("stage_id", pa.string()),
                        ("stage_label", pa.string()),
                        ("display_order", pa.int64()),
                        ("probability", pa.string()),
                        ("is_closed", pa.bool_()),
                    ]
                ),
            ),
        )

    return [*(make_resource(t) for t in landed), deal_stages]
