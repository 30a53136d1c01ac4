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

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from pipelines.contracts import enforce
from pipelines.sources.crm import settings
from pipelines.sources.crm.helpers import (
    DEAL_STAGE_SCHEMA,
    deal_stage_rows,
    inline_company,
    list_pages,
    live_created_by,
    read_companies_of,
    search_pages,
    to_arrow,
    ts,
)

ARCHIVE_SLACK = timedelta(hours=1)
log = structlog.get_logger(__name__)

# Ids of the objects of a type landed live (not archived) and created at or before a time;
# None when nothing was landed yet.
LandedLive = Callable[[str, datetime], "pa.Array | None"]


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


@dataclass
class Suppression:
    """Keyed hashes (compliance/suppression.py) of people never to land again."""

    hashes: frozenset[str] = frozenset()
    key: bytes = b""

    def holds(self, row: dict) -> bool:
        email = row.get("properties", {}).get("email")
        if not self.hashes or not email:
            return False
        from pipelines.compliance.suppression import token

        return token(self.key, email) in self.hashes


@dataclass
class Batch:
    """The rows of one object type on their way to a load: one version per id (Delta MERGE
    refuses duplicate source keys, and a windowed search repeats its boundary rows)."""

    object_type: str
    properties: list[str]
    suppression: Suppression
    at_cursor: set[tuple[str, str]]  # (id, updatedAt) the last run landed at the cursor
    archived_landed: set[tuple[str, str]]  # (id, archivedAt) landed by an earlier run
    # id → updatedAt of ledgerbridge's own last write-back: a row still at that time changed
    # only by our write (its landed properties are as landed), so it is not landed again
    echoes: dict[str, str] = field(default_factory=dict)
    rows: dict[str, dict] = field(default_factory=dict)
    companies: dict[str, str | None] = field(default_factory=dict)
    sent: set[int] = field(default_factory=set)
    seen_archived: set[tuple[str, str]] = field(default_factory=set)
    # a newer version of an id already sent in this load waits for the next run: the
    # cursor is held back to its time
    held_back: str | None = None

    def add(self, page: list[dict]) -> None:
        for r in page:
            if self.suppression.holds(r):
                continue
            if (r["id"], r["updatedAt"]) in self.at_cursor and not r.get("archived"):
                continue
            if not r.get("archived") and self.echoes.get(str(r["id"])) == r["updatedAt"]:
                continue
            if r.get("archived"):
                mark = (r["id"], r.get("archivedAt") or "")
                self.seen_archived.add(mark)
                if mark in self.archived_landed:
                    continue
            if int(r["id"]) in self.sent:
                if not r.get("archived"):
                    stamp = r["updatedAt"]
                    self.held_back = min(self.held_back or stamp, stamp)
                continue
            known = self.rows.get(r["id"])
            if known is None or r["updatedAt"] >= known["updatedAt"]:
                self.rows[r["id"]] = r

    def full(self) -> bool:
        return len(self.rows) >= settings.BATCH_ROWS

    def flush(self) -> pa.Table:
        rows = list(self.rows.values())
        table = to_arrow(self.object_type, self.properties, rows, self.companies)
        self.sent.update(int(r["id"]) for r in rows)
        self.rows.clear()
        self.companies.clear()
        return enforce("crm", self.object_type, table)


def archive_unchanged(
    client: Any,
    object_type: str,
    cursor: str,
    seen_live: list[int],
    landed_live: LandedLive | None,
) -> bool:
    """True when no object landed live and created by `cursor` has been archived or
    deleted since: the CRM counts as many live ones as the lake now holds."""
    if landed_live is None:
        return False
    landed = landed_live(object_type, ts(cursor))
    if landed is None:
        return False
    seen = pa.array(sorted(set(seen_live)), type=pa.int64())
    ours = len(landed) + (pc.sum(pc.invert(pc.is_in(seen, value_set=landed))).as_py() or 0)
    theirs = live_created_by(client, object_type, cursor)
    log.info(
        "crm_archive_check",
        object_type=object_type,
        crm_live=theirs,
        landed_live=ours,
        listing_archive=ours != theirs,
    )
    return ours == theirs


def objects(
    client: Any,
    object_type: str,
    properties: list[str],
    suppression: Suppression,
    landed_live: LandedLive | None,
    echoes: dict[str, str] | None = None,
) -> Iterator[pa.Table]:
    """One object type, incrementally: the full list on the first run, the search by
    last-modified after it; the archive when something may have left (module docstring)."""
    state = dlt.current.resource_state()
    cursor = state.get("cursor")
    if state.get("properties", properties) != properties:
        # the landed properties changed: page everything again, so every record gets the
        # new columns (and the frozen schema contract sees them)
        cursor, state["ids_at_cursor"] = None, []
    state["properties"] = list(properties)
    # the search is `>= cursor`: the rows at exactly the cursor were landed by the last
    # run; skipping them (same id, same modification time) keeps a run with nothing new
    # from merging anything, so it writes no Delta version
    batch = Batch(
        object_type,
        properties,
        suppression,
        at_cursor={(i, cursor) for i in state.get("ids_at_cursor", [])},
        archived_landed={tuple(x) for x in state.get("archived_landed", [])},
        echoes=echoes or {},
    )
    associated = object_type in settings.ASSOCIATED_COMPANY
    newest = cursor
    seen_live: list[int] = []  # live objects of this run created by the cursor
    ids_at: dict[str, set[str]] = {cursor: {i for i, _ in batch.at_cursor}} if cursor else {}
    pages = (
        list_pages(client, object_type, properties, archived=False)
        if cursor is None
        else search_pages(client, object_type, properties, cursor)
    )
    for page in pages:
        if associated and cursor is None:
            batch.companies.update({r["id"]: inline_company(r) for r in page})
        elif associated:
            batch.companies.update(read_companies_of(client, object_type, [r["id"] for r in page]))
        batch.add(page)
        for r in page:
            ids_at.setdefault(r["updatedAt"], set()).add(r["id"])
            if cursor is not None and ts(r["createdAt"]) <= ts(cursor):
                seen_live.append(int(r["id"]))
        newest = max([newest or "", *(r["updatedAt"] for r in page)])
        if batch.full():
            yield batch.flush()
    # the list of archived objects has no time filter: those archived well before the
    # cursor were landed by an earlier run (an hour of slack covers the race of an archive
    # during that run); they are paged but not landed again
    swept = cursor is None or not archive_unchanged(
        client, object_type, cursor, seen_live, landed_live
    )
    settled = ts(cursor) - ARCHIVE_SLACK if cursor else None
    for page in list_pages(client, object_type, properties, archived=True) if swept else ():
        if settled is not None:
            page = [r for r in page if not r.get("archivedAt") or ts(r["archivedAt"]) >= settled]
        if associated:
            batch.companies.update({r["id"]: inline_company(r) for r in page})
        batch.add(page)
        if batch.full():
            yield batch.flush()
    if batch.rows:
        yield batch.flush()
    if newest:
        held = batch.held_back
        state["cursor"] = min(newest, held) if held else newest
        state["ids_at_cursor"] = (
            sorted(ids_at.get(newest, set())) if state["cursor"] == newest else []
        )
    # only the marks the next run's time filter lets through are kept: the state stays
    # small (it is read and written on every run) however many objects the archive holds
    keep = ts(state["cursor"]) - ARCHIVE_SLACK if state.get("cursor") else None
    state["archived_landed"] = sorted(
        m
        for m in (batch.seen_archived if swept else batch.archived_landed)
        if keep is None or not m[1] or ts(m[1]) >= keep
    )


def deal_stages(client: Any) -> Iterator[pa.Table]:
    """The deal pipelines' stages with their win probability, landed when they changed."""
    rows = deal_stage_rows(client)
    state = dlt.current.source_state()
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
    if state.get("deal_stages_digest") == digest:
        return  # unchanged: nothing upserted, no new Delta version
    state["deal_stages_digest"] = digest
    yield enforce("crm", "deal_stages", pa.Table.from_pylist(rows, DEAL_STAGE_SCHEMA))


@dlt.source(name="crm", max_table_nesting=0)
def crm_source(  # noqa: ANN201
    base_url: str = dlt.config.value,
    token: str = dlt.secrets.value,
    properties: dict[str, list[str]] | None = None,
    allow_schema_change: bool = False,
    suppressed: frozenset[str] = frozenset(),
    suppression_key: bytes = b"",
    landed_live: LandedLive | None = None,
    echoes: dict[str, str] | None = None,
):
    """`properties`: what to request and land per object type (data minimisation). The
    landed tables' columns are frozen: a run whose configuration adds a column fails
    unless `allow_schema_change` (a deliberate change) is given. `suppressed`: keyed
    hashes (compliance/suppression.py) of e-mails whose contacts are never landed.
    `landed_live`: what the lake holds live, for the archive check (without it, the
    archive is listed on every run). `echoes`: companies as ledgerbridge's write-back left
    them (id → updatedAt), not landed again while nobody else changed them."""
    client = RESTClient(base_url=base_url, auth=BearerTokenAuth(token))
    landed = properties_to_land(properties)
    suppression = Suppression(suppressed, suppression_key)
    contract = "evolve" if allow_schema_change else "freeze"
    resources = [
        dlt.resource(
            objects,
            name=object_type,
            table_format="delta",
            primary_key="id",
            write_disposition={"disposition": "merge", "strategy": "upsert"},
            schema_contract={"tables": "evolve", "columns": contract, "data_type": contract},
        )(
            client,
            object_type,
            landed[object_type],
            suppression,
            landed_live,
            echoes if object_type == "companies" else None,
        )
        for object_type in landed
    ]
    stages = dlt.resource(
        deal_stages,
        name="deal_stages",
        table_format="delta",
        primary_key=("pipeline_id", "stage_id"),
        # upserted when the definitions changed (a replace with nothing new would truncate)
        write_disposition={"disposition": "merge", "strategy": "upsert"},
    )(client)
    return [*resources, stages]
