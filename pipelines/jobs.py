"""The composition root: every workflow ledgerbridge runs, in one place.

The command line, `watch` and the tests call these jobs; none of them strings the lower
modules together on its own. So the order of steps (extract → journals → states → build →
publish → analysts' copy; erasure before rebuild before history purge), the policies (which
CRM, which key, who may do what) and the audit trail are decided here once, and a GDPR step
cannot be skipped by calling a lower function: the restriction rewrite lives inside
`extract_legacy`, roles are checked by the jobs that need them, and every job runs inside
`audited(...)`, which records its outcome — success, partial or error — in the hash-chained
audit log.

A job returns data and prints nothing; the command line decides how a person sees it.
A `JobError` is a failure a person can act on: its message says in one line what is missing
or wrong and what to run.
"""

from __future__ import annotations

import hashlib
import json
import resource
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import structlog

from pipelines.config import Settings, load_settings
from pipelines.lake.paths import Lake

log = structlog.get_logger("ledgerbridge.jobs")
# the demo's world is plausible from this size on (a few customers per segment and status)
MIN_DEMO_CUSTOMERS = 100
MAX_DEMO_CUSTOMERS = 2_000_000


class JobError(RuntimeError):
    """A job could not do what was asked; the message says why and what to do, in a line."""


@dataclass
class Session:
    """Who runs which lake with which settings: what every job is given."""

    settings: Settings
    lake: Lake
    run_id: str
    source: str = "cli"  # where the request came from, for the audit log

    @property
    def foreign(self) -> bool:
        """The lake's folder holds something else: nothing of ours (logs, audit) goes there."""
        return bool(self.lake.foreign_entries())

    @classmethod
    def open(cls, lake_url: str | None = None, run_id: str | None = None) -> Session:
        from pipelines.operations.logs import new_run_id

        settings = load_settings(lake=lake_url)
        lake = Lake.from_url(settings.lake, settings.s3_region, settings.s3_endpoint)
        return cls(settings, lake, run_id or new_run_id())


# ---------- audit, locking and access: the cross-cutting policies


@dataclass
class AuditEntry:
    """What `audited` will record; a job fills in its outcome and details as it goes."""

    action: str
    target: str = ""
    outcome: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)
    skip: bool = False  # e.g. a dry run: nothing was done, nothing to record


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message` — what a person and the audit log are told."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if isinstance(exc, JobError):
        return first
    return f"{type(exc).__name__}: {first}".rstrip(": ")


def mark_audited(exc: BaseException) -> BaseException:
    """Flag an exception as already in the audit log, so no outer layer records it twice."""
    exc.ledgerbridge_audited = True  # type: ignore[attr-defined]
    return exc


def is_audited(exc: BaseException) -> bool:
    return bool(getattr(exc, "ledgerbridge_audited", False))


def record(
    session: Session, action: str, outcome: str, target: str = "", **details: object
) -> None:
    """One audit entry. A failure of the audit log itself is logged, never raised over the
    error being recorded. Failures on a lake that does not exist yet are logged only (an
    audit folder is not created at a mistyped path)."""
    from pipelines.operations.audit import AuditLog, local_actor

    if session.foreign or (outcome not in ("ok", "partial") and not session.lake.root.exists()):
        log.warning("not_audited", action=action, outcome=outcome, reason="no lake here")
        return
    try:
        AuditLog(session.lake).record(
            local_actor(),
            action,
            outcome,
            target=target or session.lake.url,
            source=session.source,
            run_id=session.run_id,
            **details,
        )
    except Exception as exc:  # the audit log itself is broken: say so, keep the first error
        log.error("audit_write_failed", action=action, error=str(exc))


@contextmanager
def audited(session: Session, action: str, target: str = "") -> Iterator[AuditEntry]:
    """Run the block as one audited action: its entry is recorded when the block ends —
    with the outcome and details the block set, or `error` and the reason if it raised."""
    entry = AuditEntry(action, target)
    try:
        yield entry
    except BaseException as exc:
        if not is_audited(exc) and not isinstance(exc, KeyboardInterrupt | SystemExit):
            record(session, action, "error", entry.target, reason=one_line(exc), **entry.details)
            mark_audited(exc)
        raise
    if not entry.skip:
        record(session, action, entry.outcome, entry.target, **entry.details)


@contextmanager
def writing(session: Session, command: str, wait_s: float = 0) -> Iterator[None]:
    """Hold the lake's writer lock (and an object store's lease) for the block: one writer
    per lake. A refusal (LakeBusy, naming the holder) is audited as `refused`."""
    from pipelines.lake.lock import LakeBusy, lake_lock

    foreign = session.lake.foreign_entries()
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise JobError(
            f"{session.lake.root} is not a ledgerbridge lake (it holds {shown}); writing "
            "there would mix the two: give --lake an empty folder or an existing lake"
        )
    store = session.lake.data if session.lake.remote else None
    try:
        with lake_lock(session.lake.root, command, wait_s, store):
            yield
    except LakeBusy as exc:
        log.warning("lake_busy", command=command, detail=str(exc))
        record(session, command, "refused", reason=str(exc))
        raise mark_audited(exc) from None


def require_role(session: Session, role: str, action: str) -> None:
    """Stop unless the local user holds `role`; a refusal is audited as `denied`."""
    from pipelines.compliance.access import AccessDenied, require

    try:
        require(role, session.settings.access)
    except AccessDenied as exc:
        record(session, action, "denied", role_needed=role)
        raise mark_audited(JobError(str(exc))) from exc


def audit_subject(email: str | None, customer: int | None) -> str:
    """How the audit log names a data subject: by customer number, an e-mail only as a hash."""
    if customer:
        return f"customer {customer}"
    return "email sha256:" + hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:16]


# ---------- keys and endpoints


def pseudonym_key(session: Session) -> bytes:
    """The key of every keyed pseudonym and hash (configured, or the key file outside the
    lake)."""
    from pipelines.compliance.pseudonyms import pseudonym_key as load_key

    key = session.settings.pseudonym_key
    return load_key(key.get_secret_value() if key else None)


def restriction_key(session: Session) -> bytes:
    """The pseudonym key, when customers are on the restriction register (else empty)."""
    from pipelines.compliance.restrictions import restricted_customers

    return pseudonym_key(session) if restricted_customers(session.lake) else b""


def suppression_key(session: Session) -> bytes:
    """The key of the suppression list's hashes (the pseudonym key), when a list exists."""
    return pseudonym_key(session) if session.lake.suppression_list.exists() else b""


def crm_endpoint(session: Session, stack: ExitStack) -> tuple[str, str]:
    """The configured CRM, or the embedded sandbox started for as long as `stack` lives."""
    s = session.settings
    if s.crm_base_url:
        if s.crm_token is None:
            raise JobError("LEDGERBRIDGE_CRM_TOKEN must be set with LEDGERBRIDGE_CRM_BASE_URL")
        return s.crm_base_url, s.crm_token.get_secret_value()
    from pipelines.embedded.crm_sandbox.server import SandboxServer

    if not session.lake.crm_sandbox_db.exists():
        raise JobError(
            f"no CRM configured and no CRM sandbox data in {session.lake.root}: run "
            "`ledgerbridge demo` (or `ledgerbridge run`) first, or set "
            "LEDGERBRIDGE_CRM_BASE_URL and LEDGERBRIDGE_CRM_TOKEN"
        )
    token = secrets.token_urlsafe(24)
    server = stack.enter_context(SandboxServer(session.lake.crm_sandbox_db, token))
    log.info("crm_sandbox_started", url=server.base_url)
    return server.base_url, token


def has_crm(session: Session) -> bool:
    return bool(session.settings.crm_base_url) or session.lake.crm_sandbox_db.exists()


# ---------- what must exist before a job can run


def require_landed(session: Session) -> None:
    """Something must have landed in bronze before a build."""
    lake = session.lake
    if not lake.bronze_table("legacy", "file_log").exists() and not lake.delta_tables():
        raise JobError(
            f"nothing has landed in {lake.url} yet: run `ledgerbridge run` (the whole flow) "
            "or `ledgerbridge extract` first"
        )


def require_data(session: Session, doing: str) -> None:
    """A lake with nothing in it is most likely the wrong --lake: say so rather than answer
    "nothing found"."""
    if not session.lake.holds_data():
        raise JobError(
            f"lake {session.lake.url} holds no data, so there is nothing to {doing}: check "
            "--lake (or LEDGERBRIDGE_LAKE), or run `ledgerbridge run` first"
        )


def require_warehouse(session: Session) -> None:
    if not session.lake.warehouse.exists():
        raise JobError(
            f"no warehouse in {session.lake.root} yet: run `ledgerbridge run` (or "
            "`ledgerbridge build`) first"
        )


# ---------- the demo


def demo(
    session: Session,
    customers: int | None = None,
    seed: int | None = None,
    as_of: date | None = None,
    fresh: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Generate the demo sources into an empty lake (or, with `fresh`, a wiped one)."""
    lake = session.lake
    if lake.holds_data():
        if not fresh:
            raise JobError(
                f"lake {lake.root} already holds data; a new demo would mix with it. "
                "Use --fresh to wipe the lake first, or --lake for another one."
            )
        lake.wipe()
    return _generate_demo(session, customers, seed, as_of, progress, wipe_on_failure=True)


def _generate_demo(
    session: Session,
    customers: int | None,
    seed: int | None,
    as_of: date | None,
    progress: Callable[[int], None] | None,
    wipe_on_failure: bool,
) -> dict:
    """A demo that fails leaves an empty lake as empty as it found it (a half-written demo
    would be refused by the next one)."""
    from pipelines.embedded.demo.generate import DEFAULT_AS_OF, generate_demo
    from pipelines.operations.progress import count_bar

    n = customers or session.settings.demo_customers
    if not MIN_DEMO_CUSTOMERS <= n <= MAX_DEMO_CUSTOMERS:
        raise JobError(
            f"--customers {n:,}: the demo generates {MIN_DEMO_CUSTOMERS:,} to "
            f"{MAX_DEMO_CUSTOMERS:,} customers"
        )
    with audited(session, "demo") as entry, count_bar() as bar:
        task = bar.add_task("generating demo customers", total=n)
        try:
            truth = generate_demo(
                session.lake,
                n,
                seed if seed is not None else session.settings.demo_seed,
                as_of or DEFAULT_AS_OF,
                progress or (lambda k: bar.advance(task, k)),
            )
        except BaseException:
            if wipe_on_failure:
                session.lake.wipe()
            raise
        entry.details.update(customers=n, files=len(truth["files"]))
    log.info("demo_generated", customers=n, files=truth["files"], crm=truth["crm"])
    return truth


def demo_tick(session: Session, changes: int = 10, seed: int | None = None) -> dict:
    """The demo's source systems move on: one more journal receiver per journaled file
    changing about `changes` rows, and `changes` edits in the CRM sandbox (deal amounts and
    company cities) through its API, as people would make them. Writes only the landing zone
    and the CRM, so it runs beside `watch`; a configured CRM must be a sandbox on loopback."""
    import random
    from urllib.parse import urlparse

    from pipelines.embedded.demo.change_set import write_change_set
    from pipelines.embedded.demo.generate import demo_exists

    lake = session.lake
    if not demo_exists(lake):
        raise JobError(f"no demo in {lake.url}: run `ledgerbridge run` (or `demo`) first")
    url = session.settings.crm_base_url
    if url and urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise JobError(f"demo tick edits the CRM: {url} is not a sandbox on loopback")
    rng = random.Random(seed)
    customers = json.loads(lake.demo_truth.read_text()).get("customers") or 1000
    try:
        journal = write_change_set(
            lake, fraction=min(1.0, changes / customers), seed=rng.randrange(2**31)
        )
    except ValueError as exc:  # no journal applied yet
        raise JobError(str(exc)) from exc
    with ExitStack() as stack:
        base, token = crm_endpoint(session, stack)
        edited = _edit_crm(base, token, changes, rng)
    return {"journal": sum(journal.values()), "crm": edited, "crm_url": base}


def _edit_crm(base: str, token: str, changes: int, rng: Any) -> int:
    """`changes` PATCHes through the CRM API: deal amounts moved, company cities changed."""
    import requests

    cities = ("Frankfurt am Main", "Wiesbaden", "Darmstadt", "Mainz", "Offenbach", "Hanau")
    headers = {"Authorization": f"Bearer {token}"}
    edited = 0
    for object_type in ("deals", "companies"):
        page = requests.get(
            f"{base}/crm/v3/objects/{object_type}",
            params={"limit": 100, "properties": "amount"},
            headers=headers,
            timeout=30,
        )
        page.raise_for_status()
        objects = page.json()["results"]
        share = changes // 2 if object_type == "deals" else changes - changes // 2
        for obj in rng.sample(objects, min(share, len(objects))):
            if object_type == "deals":
                amount = float(obj["properties"].get("amount") or 1000)
                props = {"amount": f"{amount * rng.uniform(0.8, 1.2):.2f}"}
            else:
                props = {"city": rng.choice(cities)}
            answer = requests.patch(
                f"{base}/crm/v3/objects/{object_type}/{obj['id']}",
                json={"properties": props},
                headers=headers,
                timeout=30,
            )
            answer.raise_for_status()
            edited += 1
    return edited


# ---------- extract, build, publish, the main job


def extract(
    session: Session, what: str = "all", strict: bool = False, allow_schema_change: bool = False
) -> Any:
    """Land what is new: legacy files (restricted customers pseudonymised, landing copies
    rewritten), journal changes, the journaled files' state, the CRM. An unreachable CRM
    does not stop `all`: the result says so and the legacy side goes on."""
    from pipelines.sources.extract import (
        ExtractFailed,
        ExtractResult,
        apply_journals,
        extract_crm,
        extract_legacy,
        refresh_states,
    )
    from pipelines.sources.journals.read import JournalError

    lake = session.lake
    if not lake.holds_data() and (what != "crm" or not has_crm(session)):
        raise JobError(
            f"lake {lake.url} is empty: nothing to extract. Drop extracts into "
            f"{lake.legacy_landing} (or run `ledgerbridge demo` for the demo sources), then "
            "run `ledgerbridge run`"
        )
    lake.ensure()
    result = ExtractResult()
    key = restriction_key(session) if what != "crm" else b""
    try:
        if what in ("legacy", "all"):
            result = extract_legacy(lake, strict, key)
        if what in ("journals", "all"):
            result.journals = apply_journals(lake, session.run_id, key)
        if what in ("legacy", "journals", "all"):
            result.states = refresh_states(lake, session.run_id)
    except (ExtractFailed, JournalError) as exc:
        raise JobError(str(exc)) from exc
    if what not in ("crm", "all"):
        return result
    with ExitStack() as stack:
        url, token = crm_endpoint(session, stack)
        try:
            crm = extract_crm(
                lake,
                url,
                token,
                session.settings.crm_properties,
                allow_schema_change,
                session.run_id,
                suppression_key(session),
            )
        except (ExtractFailed, ValueError) as exc:
            raise JobError(str(exc)) from exc
        except Exception as exc:
            why = crm_unreachable(exc)
            if why is None or what != "all":
                raise
            result.crm_unreachable = (
                f"CRM at {url} could not be reached ({why}); nothing new from the CRM "
                "this run — the build uses the CRM data landed before"
            )
            log.warning("crm_unreachable", url=url, reason=why)
            return result
    result.crm_rows = crm.crm_rows
    result.crm_schema_changes = crm.crm_schema_changes
    return result


def crm_unreachable(exc: BaseException) -> str | None:
    """Why the CRM could not be reached, if that is what `exc` (or its cause) says."""
    import requests

    seen: set[int] = set()
    at: BaseException | None = exc
    while at is not None and id(at) not in seen:
        seen.add(id(at))
        if isinstance(at, requests.exceptions.ConnectionError | ConnectionError | TimeoutError):
            text = str(at)
            for marker in ("Connection refused", "Name or service not known", "timed out"):
                if marker in text:
                    return marker.lower()
            return type(at).__name__
        at = at.__cause__ or at.__context__
    return None


def build(session: Session) -> tuple[Any, Any]:
    """dbt: the journal increment when that is all that changed, else a full build."""
    from pipelines.models.build import build as run_build
    from pipelines.models.build import plan_build

    require_landed(session)
    with audited(session, "build") as entry:
        plan = plan_build(session.lake)
        result = run_build(session.lake, plan)
        entry.details.update(mode=plan.mode, models=result.models, tests=result.tests)
    return plan, result


def analyst_database(session: Session, rebuilt: set[tuple[str, str]] | None = None) -> dict:
    """The analysts' copy of the warehouse, personal columns pseudonymised (carried forward
    after a journal increment: `rebuilt` names the tables the build rebuilt)."""
    from pipelines.compliance.pseudonyms import build_analyst_database

    return build_analyst_database(session.lake, pseudonym_key(session), rebuilt)


def publish(
    session: Session, rebuilt: set[tuple[str, str]] | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """Gold Delta tables and the analysts' copy from the warehouse: (rows per gold table,
    personal columns masked per analyst table)."""
    from pipelines.models.publish import publish_gold, publish_read_copy

    require_warehouse(session)
    gold = publish_gold(session.lake, rebuilt)
    masked = analyst_database(session, rebuilt)
    publish_read_copy(session.lake)
    return gold, masked


def rebuild(session: Session) -> None:
    """Warehouse, gold and the analysts' copy again from bronze (after bronze was changed)."""
    from pipelines.models.build import build as run_build
    from pipelines.models.publish import publish_gold

    run_build(session.lake)
    publish_gold(session.lake)
    analyst_database(session)


def peak_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _phase(name: str, started: float) -> None:
    """Time and peak memory so far, per phase, in the structured log."""
    log.info(
        "phase_done",
        phase=name,
        elapsed_s=round(time.monotonic() - started, 1),
        peak_self_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        peak_children_mib=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    )


@dataclass
class RunReport:
    """What the main job did, for the summary a person reads."""

    extract: Any  # ExtractResult
    plan: Any = None  # BuildPlan; None when nothing was new
    unchanged: bool = False
    held: list[str] = field(default_factory=list)  # input refused or held back
    warnings: list[str] = field(default_factory=list)  # dbt tests that warned
    seconds: float = 0.0
    residency: str = ""


def run_pipeline(
    session: Session,
    customers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """The main job: the demo sources if the lake has none (and no CRM is configured),
    extract, build (the increment when only journal changes arrived; nothing when nothing
    is new), publish gold and the analysts' copy, audit, mark residency."""
    from pipelines.embedded.demo.generate import demo_exists
    from pipelines.lake.residency import describe, record_on_tables
    from pipelines.models.build import build as run_build
    from pipelines.models.build import inputs_snapshot, nothing_new, plan_build, record_published
    from pipelines.models.publish import publish_gold, publish_read_copy
    from pipelines.operations.audit import mirror_to_delta
    from pipelines.operations.summary import held_input

    started = time.monotonic()
    lake = session.lake
    empty = not lake.holds_data()
    lake.ensure()
    report = RunReport(extract=None, residency=describe(lake.residency))
    log.info("run_started", lake=lake.url, work_dir=str(lake.root), residency=report.residency)
    with audited(session, "pipeline_run") as entry:
        if not demo_exists(lake) and not session.settings.crm_base_url:
            _generate_demo(session, customers, None, None, progress, wipe_on_failure=empty)
        report.extract = extract(session, "all")
        _phase("extract", started)
        snapshot = inputs_snapshot(lake)
        report.unchanged = nothing_new(lake, snapshot)
        if report.unchanged:
            log.info("nothing_new", detail="no input changed since the last run: no rebuild")
        else:
            report.plan = plan_build(lake, snapshot)
            res = run_build(lake, report.plan)
            report.warnings = res.warnings
            for w in res.warnings:  # explained in the summary (summary.explain_warning)
                log.info("dbt_test_warning", detail=w)
            _phase("build", started)
            rebuilt = res.built if report.plan.mode == "journal_increment" else None
            publish_gold(lake, rebuilt)
            analyst_database(session, rebuilt)
            publish_read_copy(lake)
            _phase("publish", started)
        if not lake.published_warehouse.exists():
            publish_read_copy(lake)  # a lake built before read copies were published
        report.seconds = time.monotonic() - started
        report.held = held_input(report.extract)
        entry.outcome = "partial" if report.held else "ok"
        entry.details.update(
            residency=report.residency,
            seconds=round(report.seconds, 1),
            files=len(report.extract.files),
            crm_rows=report.extract.crm_rows,
            held=report.held,
        )
    log.info("run_finished", seconds=round(report.seconds, 1), peak_mib=round(peak_mib()))
    mirror_to_delta(lake)
    marked = record_on_tables(lake.delta_tables(), lake.residency)
    if not report.unchanged:
        # marking residency changes table properties, not data: the inputs as built are
        # the bronze tables as they stand now
        record_published(lake, snapshot if not marked else inputs_snapshot(lake))
    log.info("lake_residency", residency=report.residency, tables_marked=marked)
    return report


# ---------- the CRM write-back


def sync_crm(
    session: Session, dry_run: bool = False, progress: Callable[[int], None] | None = None
) -> tuple[Any, list]:
    """Write the finance status of matched customers to the CRM (changed values only)."""
    from pipelines.crm.hubspot import CrmRequestError, HubSpotConnector
    from pipelines.writeback.sync import sync_crm as write_back

    require_warehouse(session)
    with audited(session, "crm_writeback") as entry:
        entry.skip = dry_run
        with ExitStack() as stack:
            url, token = crm_endpoint(session, stack)
            connector = HubSpotConnector(url, token)
            entry.target = connector.base_url
            try:
                summary, changes = write_back(
                    session.lake, connector, session.run_id, dry_run, progress
                )
            except CrmRequestError as exc:
                raise JobError(str(exc)) from exc
        entry.outcome = "partial" if summary.failed else "ok"
        entry.details.update(
            updated=summary.updated, failed=summary.failed, unchanged=summary.unchanged
        )
    log.info("crm_sync_finished", **{k: v for k, v in vars(summary).items() if k != "errors"})
    return summary, changes


# ---------- data-subject rights and retention


def dsar_export(session: Session, email: str | None, customer: int | None) -> dict:
    """Everything held about a person or customer, with source, purpose, legal basis and
    retention of each item. Role: dpo."""
    from pipelines.compliance.dsar import export

    require_role(session, "dpo", "dsar_export")
    if bool(email) == bool(customer):
        raise JobError("give exactly one of --email or --customer")
    require_data(session, "export about anyone")
    with audited(session, "dsar_export", audit_subject(email, customer)) as entry:
        report = export(session.lake, email, customer)
        entry.details.update(
            items=len(report["items"]),
            records=sum(len(i["records"]) for i in report["items"]),
        )
    return report


def suppress(session: Session, email: str, reason: str, erase_in_crm: bool) -> tuple[bool, Any]:
    """Put a person on the suppression list (CRM extracts never land them again); with
    `erase_in_crm`, call the CRM's GDPR delete too. Role: dpo."""
    from pipelines.compliance.suppression import suppress as add_to_list

    require_role(session, "dpo", "suppress")
    with audited(session, "suppress", audit_subject(email, None)) as entry:
        added = add_to_list(session.lake, pseudonym_key(session), email, reason)
        erased = None
        if erase_in_crm:
            from pipelines.crm.hubspot import HubSpotConnector

            with ExitStack() as stack:
                url, token = crm_endpoint(session, stack)
                erased = HubSpotConnector(url, token).erase_contact(email)
        entry.details.update(added=added, erased_in_crm=erased, reason=reason)
    return added, erased


@dataclass
class ErasureOutcome:
    report: Any  # compliance.erasure.ErasureReport
    erased_in_crm: int
    suppressed: int


def forget(
    session: Session, email: str | None, customer: int | None, call_crm: bool = True
) -> ErasureOutcome:
    """Erase a person (GDPR Art. 17), in this order: their CRM data deleted from bronze and
    accounting records under retention restricted; the CRM's erasure called; the person
    suppressed in later extracts; warehouse, gold and analysts' copy rebuilt from the
    corrected bronze; only then Delta history and dlt packages purged (so no earlier
    version still holds them). Role: dpo."""
    from pipelines.compliance.erasure import finish
    from pipelines.compliance.erasure import forget as erase
    from pipelines.compliance.suppression import suppress as add_to_list
    from pipelines.models.publish import publish_read_copy
    from pipelines.operations.audit import mirror_to_delta

    require_role(session, "dpo", "erasure")
    if bool(email) == bool(customer):
        raise JobError("give exactly one of --email or --customer")
    require_data(session, "erase")
    key = pseudonym_key(session)
    with audited(session, "erasure", audit_subject(email, customer)) as entry:
        report, subject = erase(session.lake, key, email, customer)
        erased_in_crm = 0
        if call_crm and subject.emails and has_crm(session):
            from pipelines.crm.hubspot import HubSpotConnector

            with ExitStack() as stack:
                url, token = crm_endpoint(session, stack)
                connector = HubSpotConnector(url, token)
                erased_in_crm = sum(connector.erase_contact(e) for e in sorted(subject.emails))
        for e in sorted(subject.emails):
            add_to_list(session.lake, key, e, "erasure request (GDPR Art. 17)")
        if report.changed_anything():
            rebuild(session)
        entry.details.update(
            customers=report.customers,
            deleted=report.deleted,
            restricted=report.restricted,
            erasable_on=report.erasable_on,
            erased_in_crm=erased_in_crm,
            landing_files_rewritten=len(report.landing_files_rewritten),
        )
    mirror_to_delta(session.lake)
    if report.changed_anything():
        finish(session.lake, report)
        # the readers' copy is made from the compacted warehouse: no freed block of the
        # erased rows comes along
        publish_read_copy(session.lake)
    return ErasureOutcome(report, erased_in_crm, len(subject.emails))


def retention(session: Session, day: date, dry_run: bool = False) -> Any:
    """Purge what has passed its retention period on `day`, then rebuild from bronze and
    purge Delta history (nothing is rebuilt on a dry run or when nothing passed). Role: dpo."""
    from pipelines.compliance.erasure import ErasureReport, finish
    from pipelines.compliance.retention import apply_retention
    from pipelines.models.publish import publish_read_copy
    from pipelines.operations.audit import mirror_to_delta

    require_role(session, "dpo", "retention")
    require_data(session, "purge")
    with audited(session, "retention") as entry:
        report = apply_retention(session.lake, day, dry_run)
        entry.skip = dry_run or not (report.purged or report.files_removed)
        if not entry.skip:
            rebuild(session)
        entry.details.update(
            as_of=day.isoformat(),
            purged=report.purged,
            files_removed=len(report.files_removed),
            customers_erased=report.customers_erased,
        )
    if not entry.skip:
        mirror_to_delta(session.lake)
        finish(session.lake, ErasureReport())
        publish_read_copy(session.lake)
    return report


# ---------- the journals (CDC)


def journal_feed(name: str) -> Any:
    from pipelines.sources.journals.feeds import journal_by_name

    try:
        return journal_by_name(name)
    except KeyError as exc:
        raise JobError(str(exc.args[0])) from exc


def cdc_status(session: Session) -> list[dict]:
    """Per journal with receivers or state: where it stands, its gap, its refused receivers."""
    from pipelines.sources.journals.apply import load_state
    from pipelines.sources.journals.feeds import JOURNALS
    from pipelines.sources.journals.receiver_log import read_receiver_log

    require_data(session, "report on")
    refused: dict[str, list[dict]] = {}
    for row in read_receiver_log(session.lake):
        if row["status"] == "rejected":
            refused.setdefault(row["journal"], []).append(row)
    out = []
    for j in JOURNALS:
        st = load_state(session.lake, j.name)
        baseline = st["baseline"] or {}
        out.append(
            {
                "journal": j.name,
                "applied_through": st["watermark"],
                "baseline_extract_date": baseline.get("extract_date"),
                "baseline_sequence": baseline.get("sequence"),
                "gap": st["gap"],
                "acknowledged_gaps": st["acknowledged_gaps"],
                "refused_receivers": [
                    {"receiver": r["receiver"], "reason": r["reason"]}
                    for r in refused.get(j.name, [])
                ],
            }
        )
    return out


def status(session: Session) -> dict:
    """Where each source stands: position, lag, what waits, the last error."""
    from pipelines.operations.status import lake_status

    require_data(session, "report on")
    return lake_status(session.lake)


def cdc_compact(session: Session) -> list:
    """Bring each journaled file's state up to date."""
    from pipelines.sources.extract import refresh_states

    require_landed(session)
    with audited(session, "cdc_compact"):
        return refresh_states(session.lake, session.run_id)


def cdc_ack_gap(session: Session, journal: str, low: int, high: int) -> None:
    """Accept that sequences low..high will never arrive; the next apply goes past them."""
    from pipelines.sources.journals.apply import acknowledge_gap

    if high < low:
        raise JobError("--to must not be below --from")
    from pipelines.sources.journals.apply import load_state

    feed = journal_feed(journal)
    if load_state(session.lake, feed.name)["watermark"] is None:
        raise JobError(
            f"journal {feed.name} has not been applied in {session.lake.url} yet, so it has no "
            "gap to acknowledge: see `ledgerbridge cdc status`"
        )
    with audited(session, "cdc_ack_gap", journal) as entry:
        acknowledge_gap(session.lake, feed.name, low, high)
        entry.details.update(low=low, high=high)


def cdc_rebaseline(session: Session, journal: str, extract_date: date, sequence: int) -> int:
    """Take a landed full extract as the state at `sequence`; returns its rows."""
    from pipelines.sources.journals.apply import load_state, rebaseline, save_state
    from pipelines.sources.journals.read import JournalError

    feed = journal_feed(journal)
    require_landed(session)
    with audited(session, "cdc_rebaseline", journal) as entry:
        state = load_state(session.lake, feed.name)
        try:
            rows = rebaseline(session.lake, feed, extract_date, sequence, state)
        except (JournalError, ValueError) as exc:
            raise JobError(str(exc)) from exc
        save_state(session.lake, feed.name, state)
        entry.details.update(extract_date=extract_date.isoformat(), sequence=sequence, rows=rows)
    return rows


def cdc_drift(
    session: Session, journal: str, extract_date: str | None, sequence: int | None
) -> Any:
    """Compare a landed full extract with the journal-maintained state."""
    from deltalake.exceptions import TableNotFoundError

    from pipelines.sources.journals.read import JournalError
    from pipelines.sources.journals.reconcile import drift

    feed = journal_feed(journal)
    require_landed(session)
    try:
        return drift(session.lake, feed, session.run_id, extract_date, sequence)
    except JournalError as exc:
        raise JobError(str(exc)) from exc
    except TableNotFoundError as exc:
        raise JobError(
            f"journal {feed.name}: no full extract of {feed.image_feed} and no journal state "
            "to compare yet: run `ledgerbridge run` first"
        ) from exc


# ---------- serving


def api_keys(session: Session) -> Any:
    from pipelines.serving.keys import ApiKeyStore

    return ApiKeyStore(session.lake.api_keys)


def create_api_key(session: Session, name: str, scopes: list[str]) -> str:
    from pipelines.serving.keys import ApiKeyError

    with audited(session, "api_key_create", name) as entry:
        try:
            key = api_keys(session).create(name, scopes)
        except ApiKeyError as exc:
            raise JobError(str(exc)) from exc
        entry.details.update(scopes=scopes)
    return key


def revoke_api_key(session: Session, name: str) -> None:
    from pipelines.serving.keys import ApiKeyError

    with audited(session, "api_key_revoke", name):
        try:
            api_keys(session).revoke(name)
        except ApiKeyError as exc:
            raise JobError(str(exc)) from exc


def sql_query(session: Session, query: str, role: str) -> tuple[list[str], list[tuple]]:
    """One read-only SELECT in the role's database (analysts: the pseudonymised copy); every
    query — answered, refused or failed — is audited with its hash and the reason."""
    from pipelines.serving.sql_sandbox import SqlRefused, run_query

    require_role(session, role, "sql_query")
    lake = session.lake
    path = lake.readable_warehouse() if role == "finance" else lake.analyst_database
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]

    def audit(outcome: str, **details: object) -> None:
        if session.lake.audit.parent.exists():
            record(session, "sql_query", outcome, role, query_sha256=digest, **details)

    try:
        cols, rows = run_query(path, query)
    except SqlRefused as exc:
        audit("refused", reason=str(exc))
        raise mark_audited(JobError(str(exc))) from exc
    except FileNotFoundError as exc:
        audit("failed", reason=str(exc))
        raise mark_audited(JobError(str(exc))) from exc
    except Exception as exc:  # duckdb raises many error types; all are the user's query
        reason = str(exc).strip().splitlines()[0][:300]
        audit("failed", reason=reason)
        raise mark_audited(JobError(f"query failed: {reason}")) from exc
    audit("ok", rows=len(rows))
    return cols, rows


def serving_app(session: Session) -> Any:
    """The curated-view API over the published warehouse snapshot."""
    from pipelines.operations.audit import AuditLog
    from pipelines.serving.api import create_api
    from pipelines.serving.snapshot import WarehouseSnapshot

    try:
        snapshot = WarehouseSnapshot(session.lake.readable_warehouse())
    except FileNotFoundError as exc:
        raise JobError(str(exc)) from exc
    return create_api(
        snapshot, api_keys(session), AuditLog(session.lake), webhook_receiver(session)
    )


def webhook_receiver(session: Session) -> Any:
    """HubSpot's webhooks, when the CRM app's client secret is configured (else None)."""
    from pipelines.crm.webhooks import SignatureCheck, WebhookInbox
    from pipelines.serving.webhook_endpoint import WebhookReceiver

    secret = session.settings.crm_client_secret
    if secret is None:
        return None
    return WebhookReceiver(
        SignatureCheck(secret.get_secret_value()),
        WebhookInbox(session.lake.crm_webhook_inbox),
        session.settings.webhook_public_url,
    )
