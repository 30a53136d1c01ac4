"""The `ledgerbridge` command line. Every command takes `--lake` (env LEDGERBRIDGE_LAKE)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import resource
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

import click
import structlog
from rich.console import Console

from pipelines.config import Settings, load_settings
from pipelines.lake import Lake, LakeLocationError
from pipelines.logs import configure_logging, new_run_id, record_traceback
from pipelines.progress import console, count_bar

log = structlog.get_logger("ledgerbridge")
# `run` completed, but some input was refused or waits (the summary lists it): cron and
# monitoring tell it from success (0), failure (1) and a busy lake (75)
INPUT_HELD_EXIT_CODE = 3


class Context:
    def __init__(self, settings: Settings, lake: Lake, run_id: str, lock_wait: float = 0) -> None:
        self.settings = settings
        self.lake = lake
        self.run_id = run_id
        self.lock_wait = lock_wait


def _audit_outcome(obj: Context, action: str, outcome: str, reason: str) -> None:
    from pipelines.audit import AuditLog, local_actor

    try:
        AuditLog(obj.lake).record(
            local_actor(), action, outcome, target=obj.lake.url, run_id=obj.run_id, reason=reason
        )
    except Exception as exc:  # the audit log itself is broken: say so, keep the first error
        log.error("audit_write_failed", action=action, error=str(exc))


def writes_lake(command: Callable) -> Callable:
    """The command writes the lake: it runs holding the lake's writer lock (one writer at a
    time, pipelines/lake_lock.py); a second writer is refused naming the holder, with exit
    code 75, and the refusal is audited."""

    @functools.wraps(command)
    def locked(*args: object, **kwargs: object) -> object:
        from pipelines.lake_lock import BUSY_EXIT_CODE, LakeBusy, lake_lock

        ctx = click.get_current_context()
        obj = ctx.find_object(Context)
        parts, at = [], ctx
        while at.parent is not None:  # the command's own words: `run`, `cdc ack-gap`
            parts.append(at.info_name)
            at = at.parent
        name = " ".join(reversed(parts))
        try:
            store = None if isinstance(obj.lake.data, Path) else obj.lake.data
            with lake_lock(obj.lake.root, name, obj.lock_wait, store):
                return command(*args, **kwargs)
        except LakeBusy as exc:
            log.warning("lake_busy", command=name, detail=str(exc))
            _audit_outcome(obj, name, "refused", str(exc))
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(BUSY_EXIT_CODE)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            _audit_outcome(obj, name, "error", exc.format_message())
            raise
        except Exception as exc:
            # one line for the person; the traceback goes to the run's log file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = f"{type(exc).__name__}: {first}".rstrip(": ")
            log.error("command_failed", command=name, error=reason)
            record_traceback(obj.lake.logs, obj.run_id, name, exc)
            _audit_outcome(obj, name, "error", reason)
            raise click.ClickException(
                f"{name} failed: {reason} (details: {obj.lake.logs / (obj.run_id + '.jsonl')})"
            ) from exc
        return None

    return locked


def _phase(name: str, started: float) -> None:
    """Time and peak memory so far, per phase, in the structured log."""
    log.info(
        "phase_done",
        phase=name,
        elapsed_s=round(time.monotonic() - started, 1),
        peak_self_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        peak_children_mib=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    )


def _peak_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lake",
    "lake_url",
    envvar="LEDGERBRIDGE_LAKE",
    default=None,
    help="Lake root (path or URL). Default: lake/ of the checkout.",
)
@click.option("--log-json", is_flag=True, help="Console logs as JSON lines too.")
@click.option(
    "--wait",
    "lock_wait",
    envvar="LEDGERBRIDGE_LAKE_WAIT",
    type=click.FloatRange(min=0),
    default=0,
    help="Seconds to wait for another writer of the lake to finish (default: refuse at once).",
)
@click.pass_context
def cli(ctx: click.Context, lake_url: str | None, log_json: bool, lock_wait: float) -> None:
    """ledgerbridge: legacy finance extracts + CRM → Delta lake → dbt marts → CRM."""
    settings = load_settings(lake=lake_url)
    try:
        lake = Lake.from_url(settings.lake, settings.s3_region, settings.s3_endpoint)
    except LakeLocationError as exc:
        raise click.UsageError(str(exc)) from exc
    run_id = new_run_id()
    needs_dir = ctx.invoked_subcommand not in (None, "sql", "layout", "decode", "audit")
    configure_logging(lake.logs if needs_dir else None, run_id, settings.log_level, log_json)
    ctx.obj = Context(settings, lake, run_id, lock_wait)


@cli.command()
@click.option("--customers", type=int, default=None, help="Customers to generate.")
@click.option("--seed", type=int, default=None, help="Random seed (same seed, same lake).")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Extract date of the demo files (default 2026-10-30).",
)
@click.option("--fresh", is_flag=True, help="Wipe the lake first if it already holds data.")
@click.pass_obj
@writes_lake
def demo(obj: Context, customers: int | None, seed: int | None, as_of: object, fresh: bool) -> None:
    """Generate the demo legacy extracts and CRM sandbox data (and their ground truth)."""
    if obj.lake.holds_data():
        if not fresh:
            raise click.UsageError(
                f"lake {obj.lake.root} already holds data; a new demo would mix with it. "
                "Use --fresh to wipe the lake first, or --lake for another one."
            )
        obj.lake.wipe()
    _demo(obj, customers, seed, as_of.date() if as_of else None)


def _demo(obj: Context, customers: int | None, seed: int | None, as_of: date | None) -> dict:
    from pipelines.demo.generate import DEFAULT_AS_OF, generate_demo

    n = customers or obj.settings.demo_customers
    with count_bar() as progress:
        task = progress.add_task("generating demo customers", total=n)
        truth = generate_demo(
            obj.lake,
            n,
            seed if seed is not None else obj.settings.demo_seed,
            as_of or DEFAULT_AS_OF,
            lambda k: progress.advance(task, k),
        )
    log.info("demo_generated", customers=n, files=truth["files"], crm=truth["crm"])
    return truth


@cli.command("crm-sandbox")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option(
    "--token",
    envvar="LEDGERBRIDGE_CRM_TOKEN",
    default=None,
    help="Bearer token clients must send (default: a new random one, printed).",
)
@click.option(
    "--rate-limit",
    type=int,
    default=1000,
    show_default=True,
    help="Requests per 10 s before the sandbox answers 429.",
)
@click.pass_obj
def crm_sandbox(obj: Context, port: int, token: str | None, rate_limit: int) -> None:
    """Serve the CRM sandbox (HubSpot CRM v3 subset) on 127.0.0.1 until interrupted."""
    from pipelines.crm_sandbox.server import serve_forever

    token = token or secrets.token_urlsafe(24)
    console.print(f"CRM sandbox on http://127.0.0.1:{port} — token: {token}")
    serve_forever(obj.lake.crm_sandbox_db, token, port, rate_limit)


def _crm_endpoint(obj: Context, stack: ExitStack) -> tuple[str, str]:
    """The configured CRM, or a sandbox started for the duration of the command."""
    s = obj.settings
    if s.crm_base_url:
        if s.crm_token is None:
            raise click.UsageError(
                "LEDGERBRIDGE_CRM_TOKEN must be set with LEDGERBRIDGE_CRM_BASE_URL"
            )
        return s.crm_base_url, s.crm_token.get_secret_value()
    from pipelines.crm_sandbox.server import SandboxServer

    if not obj.lake.crm_sandbox_db.exists():
        raise click.UsageError(
            f"no CRM sandbox data in {obj.lake.crm_sandbox_db}: "
            "run `ledgerbridge demo` first or configure a CRM"
        )
    token = secrets.token_urlsafe(24)
    server = stack.enter_context(SandboxServer(obj.lake.crm_sandbox_db, token))
    log.info("crm_sandbox_started", url=server.base_url)
    return server.base_url, token


def _extract(obj: Context, what: str, strict: bool = False, allow_schema_change: bool = False):
    from pipelines.extract import (
        ExtractFailed,
        ExtractResult,
        apply_journals,
        extract_crm,
        extract_legacy,
        refresh_states,
    )
    from pipelines.sources.journals.read import JournalError

    result = ExtractResult()
    restriction_key = _restriction_key(obj) if what != "crm" else b""
    if what in ("legacy", "all"):
        try:
            result = extract_legacy(obj.lake, strict, restriction_key)
            _restrict_new_deliveries(obj, restriction_key)
        except ExtractFailed as exc:
            raise click.ClickException(str(exc)) from exc
    if what in ("journals", "all"):
        try:
            result.journals = apply_journals(obj.lake, obj.run_id, restriction_key)
        except JournalError as exc:
            raise click.ClickException(str(exc)) from exc
    if what in ("legacy", "journals", "all"):
        try:
            result.states = refresh_states(obj.lake, obj.run_id)
        except JournalError as exc:
            raise click.ClickException(str(exc)) from exc
    if what in ("crm", "all"):
        with ExitStack() as stack:
            url, token = _crm_endpoint(obj, stack)
            try:
                crm = extract_crm(
                    obj.lake,
                    url,
                    token,
                    obj.settings.crm_properties,
                    allow_schema_change,
                    obj.run_id,
                    _suppression_key(obj),
                )
            except (ExtractFailed, ValueError) as exc:
                raise click.ClickException(str(exc)) from exc
            except Exception as exc:
                why = _unreachable(exc)
                if why is None or what != "all":
                    raise
                # the CRM is down: the legacy side still lands and builds, on the CRM data
                # landed before; the run says so in one line and exits 3 (input held)
                result.crm_unreachable = (
                    f"CRM at {url} could not be reached ({why}); nothing new from the CRM "
                    "this run — the build uses the CRM data landed before"
                )
                log.warning("crm_unreachable", url=url, reason=why)
                return result
            result.crm_rows = crm.crm_rows
            result.crm_schema_changes = crm.crm_schema_changes
    return result


def _unreachable(exc: BaseException) -> str | None:
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


@cli.command()
@click.argument("what", type=click.Choice(["legacy", "journals", "crm", "all"]), default="all")
@click.option(
    "--strict",
    is_flag=True,
    help="Stop at the first legacy value that does not decode (nothing of it lands).",
)
@click.option(
    "--allow-schema-change",
    is_flag=True,
    help="Accept a deliberate change of the landed CRM columns (configuration changed).",
)
@click.pass_obj
@writes_lake
def extract(obj: Context, what: str, strict: bool, allow_schema_change: bool) -> None:
    """Land new legacy files and CRM changes as bronze Delta tables (dlt)."""
    obj.lake.ensure()
    result = _extract(obj, what, strict, allow_schema_change)
    for f in result.files:
        console.print(
            f"{f.file}: {f.status} — read {f.records_read:,}, landed "
            f"{f.records_landed:,}, quarantined {f.records_quarantined:,}"
            + (f" — {f.reason}" if f.reason else "")
        )
    if result.crm_rows:
        console.print("CRM rows: " + ", ".join(f"{k} {v:,}" for k, v in result.crm_rows.items()))
    for j in result.journals:
        console.print(
            f"journal {j.journal}: {j.applied:,} changes applied ({j.already_applied:,} already "
            f"applied, {j.rolled_back:,} rolled back, {j.pending:,} in open transactions); "
            f"applied through sequence {j.watermark:,}"
        )
        if j.gap:
            console.print(
                f"[red]journal {j.journal}: sequence {j.gap[0]:,}-{j.gap[1]:,} missing; applying "
                f"halted after {j.watermark:,} until it arrives or `ledgerbridge cdc ack-gap "
                f"{j.journal} --from {j.gap[0]} --to {j.gap[1]}`[/red]"
            )
    for c in result.crm_schema_changes:
        console.print(
            f"CRM schema change: {c.object_type}.{c.property} {c.change.replace('_', ' ')}"
            + ("" if c.landed else " (not landed: not in the configured properties)")
        )


@cli.command()
@click.pass_obj
@writes_lake
def build(obj: Context) -> None:
    """Build the dbt models and run their tests into <lake>/warehouse.duckdb."""
    from pipelines.build import build as run_build
    from pipelines.build import plan_build

    plan = plan_build(obj.lake)
    res = run_build(obj.lake, plan)
    console.print(
        f"dbt ({plan.mode.replace('_', ' ')}: {plan.why}): "
        f"{res.seeds} seeds, {res.models} models, {res.tests} tests passed"
        + (f", {len(res.warnings)} warnings" if res.warnings else "")
    )


@cli.command()
@click.pass_obj
@writes_lake
def publish(obj: Context) -> None:
    """Publish the gold marts as Delta tables under <lake>/gold."""
    from pipelines.publish import publish_gold

    for table, n in publish_gold(obj.lake).items():
        console.print(f"gold/{table}: {n:,} rows")
    masked = _analyst_database(obj)
    console.print(
        f"analyst.duckdb: {sum(masked.values())} personal columns pseudonymised in "
        f"{len(masked)} tables"
    )


@cli.command()
@click.option("--customers", type=int, default=None, help="Demo size if the demo is generated.")
@click.pass_obj
@writes_lake
def run(obj: Context, customers: int | None) -> None:
    """The main job: demo sources if absent, extract, build, publish, summary."""
    from pipelines.build import build as run_build
    from pipelines.demo.generate import demo_exists
    from pipelines.publish import publish_gold
    from pipelines.summary import print_summary

    started = time.monotonic()
    obj.lake.ensure()
    from pipelines.residency import describe

    residency = describe(obj.lake.residency)
    log.info("run_started", lake=obj.lake.url, work_dir=str(obj.lake.root), residency=residency)
    if not demo_exists(obj.lake) and not obj.settings.crm_base_url:
        _demo(obj, customers, None, None)
    result = _extract(obj, "all")
    _phase("extract", started)
    from pipelines.build import inputs_snapshot, nothing_new, plan_build, record_published

    snapshot = inputs_snapshot(obj.lake)
    unchanged = nothing_new(obj.lake, snapshot)
    plan = None
    if unchanged:
        log.info("nothing_new", detail="no input changed since the last run: no rebuild")
    else:
        plan = plan_build(obj.lake, snapshot)
        res = run_build(obj.lake, plan)
        for w in res.warnings:
            log.warning("dbt_test_warning", detail=w)
        _phase("build", started)
        rebuilt = res.built if plan.mode == "journal_increment" else None
        publish_gold(obj.lake, rebuilt)
        _analyst_database(obj, rebuilt)
        _phase("publish", started)
    seconds = time.monotonic() - started
    summary_console = Console(width=max(110, console.width))
    figures = print_summary(obj.lake, result, seconds, _peak_mib(), summary_console)
    if plan is not None:
        summary_console.print(
            f"Build: {plan.mode.replace('_', ' ')} ({plan.why})"
            + (
                ", only the rows the journal changes touch were rebuilt and merged into gold"
                if plan.mode == "journal_increment"
                else ""
            )
        )
    if unchanged:
        summary_console.print(
            "Nothing new: no file, journal entry or CRM change since the last run; "
            "warehouse, gold and the analysts' copy left as they are."
        )
    from pipelines.summary import held_input

    held = held_input(result)
    if held:
        summary_console.print(
            f"[yellow]Input refused or held ({len(held)}), exit code {INPUT_HELD_EXIT_CODE}; "
            "everything else landed and was built:[/yellow]"
        )
        for line in held:
            summary_console.print(f"  {line}")
    log.info(
        "run_finished",
        seconds=round(seconds, 1),
        peak_mib=round(_peak_mib()),
        quarantined=figures.quarantined,
    )
    from pipelines.audit import AuditLog, local_actor

    AuditLog(obj.lake).record(
        local_actor(),
        "pipeline_run",
        "partial" if held else "ok",
        target=obj.lake.url,
        run_id=obj.run_id,
        residency=residency,
        seconds=round(seconds, 1),
        files=len(result.files),
        crm_rows=result.crm_rows,
        held=held,
    )
    from pipelines.audit import mirror_to_delta
    from pipelines.residency import record_on_tables

    mirror_to_delta(obj.lake)
    marked = record_on_tables(obj.lake.delta_tables(), obj.lake.residency)
    if not unchanged:
        # marking residency changes table properties, not data: the inputs as built are
        # the bronze tables as they stand now
        record_published(obj.lake, snapshot if not marked else inputs_snapshot(obj.lake))
    log.info("lake_residency", residency=residency, tables_marked=marked)
    if held:
        click.get_current_context().exit(INPUT_HELD_EXIT_CODE)


@cli.command("sync-crm")
@click.option("--dry-run", is_flag=True, help="Print the changes it would send; send nothing.")
@click.pass_obj
@writes_lake
def sync_crm_command(obj: Context, dry_run: bool) -> None:
    """Write the finance status of matched customers to the CRM (changed values only)."""
    from rich.table import Table

    from pipelines.audit import AuditLog, local_actor
    from pipelines.crm.hubspot import CrmRequestError, HubSpotConnector
    from pipelines.writeback.sync import sync_crm

    if not obj.lake.warehouse.exists():
        raise click.UsageError(f"no warehouse in {obj.lake.root}: run `ledgerbridge run` first")
    audit = AuditLog(obj.lake)
    try:
        with ExitStack() as stack:
            url, token = _crm_endpoint(obj, stack)
            connector = HubSpotConnector(url, token)
            with count_bar() as bar:
                task = bar.add_task("CRM write-back", total=None)
                summary, changes = sync_crm(
                    obj.lake, connector, obj.run_id, dry_run, lambda n: bar.advance(task, n)
                )
    except CrmRequestError as exc:
        audit.record(local_actor(), "crm_writeback", "error", run_id=obj.run_id, error=str(exc))
        raise click.ClickException(str(exc)) from exc
    out = Console(width=max(110, console.width))
    if dry_run:
        t = Table("CRM company", "customer", "property", "now in CRM", "would send")
        for change in changes[:50]:
            for prop, value in change.after.items():
                t.add_row(
                    change.company_id,
                    str(change.customer_number),
                    prop,
                    change.before[prop] or "—",
                    value or "—",
                )
        out.print(t)
        if len(changes) > 50:
            out.print(f"… and {len(changes) - 50:,} more companies")
    else:
        audit.record(
            local_actor(),
            "crm_writeback",
            "ok" if not summary.failed else "partial",
            target=connector.base_url,
            run_id=obj.run_id,
            updated=summary.updated,
            failed=summary.failed,
            unchanged=summary.unchanged,
        )
    log.info("crm_sync_finished", **{k: v for k, v in vars(summary).items() if k != "errors"})
    verb = "would update" if dry_run else "updated"
    out.print(
        f"CRM write-back{' (dry run)' if dry_run else ''}: {summary.matched_companies:,} matched "
        f"companies — {verb} {summary.changed if dry_run else summary.updated:,}, unchanged "
        f"{summary.unchanged:,}, failed {summary.failed:,}"
        + (
            f"; created properties: {', '.join(summary.properties_created)}"
            if summary.properties_created
            else ""
        )
    )
    for reason in summary.errors:
        out.print(f"  refused: {reason}")
    if summary.failed:
        raise SystemExit(1)


def _key_store(obj: Context):
    from pipelines.serving.keys import ApiKeyStore

    return ApiKeyStore(obj.lake.ops / "api_keys.json")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the read-only curated-view API (OpenAPI schema at /openapi.json, docs at /docs)."""
    import uvicorn

    from pipelines.audit import AuditLog
    from pipelines.serving.api import create_api
    from pipelines.serving.snapshot import WarehouseSnapshot

    try:
        snapshot = WarehouseSnapshot(obj.lake.warehouse)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from exc
    if not any(not k.revoked_at for k in _key_store(obj).list()):
        console.print("no API keys yet: create one with `ledgerbridge api-key create NAME`")
    app = create_api(snapshot, _key_store(obj), AuditLog(obj.lake))
    console.print(f"serving http://{host}:{port} (OpenAPI: /openapi.json)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@cli.group("api-key")
def api_key() -> None:
    """API keys of the curated-view API (stored hashed in <lake>/ops)."""


@api_key.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=("financial-status:read", "open-items:read"),
    show_default=True,
    help="financial-status:read, open-items:read (repeat for several).",
)
@click.pass_obj
def api_key_create(obj: Context, name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from pipelines.audit import AuditLog, local_actor
    from pipelines.serving.keys import ApiKeyError

    try:
        key = _key_store(obj).create(name, list(scopes))
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    AuditLog(obj.lake).record(
        local_actor(), "api_key_create", "ok", target=name, scopes=list(scopes)
    )
    click.echo(key)


@api_key.command("revoke")
@click.argument("name")
@click.pass_obj
def api_key_revoke(obj: Context, name: str) -> None:
    """Revoke the active key called NAME."""
    from pipelines.audit import AuditLog, local_actor
    from pipelines.serving.keys import ApiKeyError

    try:
        _key_store(obj).revoke(name)
    except ApiKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    AuditLog(obj.lake).record(local_actor(), "api_key_revoke", "ok", target=name)
    console.print(f"revoked {name}")


@api_key.command("list")
@click.pass_obj
def api_key_list(obj: Context) -> None:
    """The keys: name, scopes, created, revoked (never the secret)."""
    for k in _key_store(obj).list():
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        click.echo(f"{k.name}\t{','.join(k.scopes)}\tcreated {k.created_at}\t{state}")


@cli.command()
@click.option("--email", default=None, help="The subject's e-mail address.")
@click.option("--customer", type=int, default=None, help="The subject's customer number.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_obj
def dsar(obj: Context, email: str | None, customer: int | None, out: Path | None) -> None:
    """Subject access export (JSON): everything held about a person or customer, with
    source, purpose, legal basis and retention of each item."""
    _require(obj, "dpo", "dsar_export")

    from pipelines.audit import AuditLog, local_actor
    from pipelines.compliance.dsar import export

    if bool(email) == bool(customer):
        raise click.UsageError("give exactly one of --email or --customer")
    report = export(obj.lake, email, customer)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if out:
        out.write_text(text, encoding="utf-8")
        out.chmod(0o600)
    else:
        click.echo(text)
    who = _audit_subject(email, customer)
    AuditLog(obj.lake).record(
        local_actor(), "dsar_export", "ok", target=who, run_id=obj.run_id,
        items=len(report["items"]),
        records=sum(len(i["records"]) for i in report["items"]),
    )  # fmt: skip
    if out:
        console.print(
            f"{out}: {len(report['items'])} locations, "
            f"{sum(len(i['records']) for i in report['items']):,} records"
        )


def _audit_subject(email: str | None, customer: int | None) -> str:
    """How the audit log names a data subject: by customer number, an e-mail only as a hash."""
    if customer:
        return f"customer {customer}"
    return "email sha256:" + hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:16]


def _rebuild(obj: Context) -> None:
    """Warehouse, gold and the analysts' copy again from bronze (after bronze was changed)."""
    from pipelines.build import build as run_build
    from pipelines.publish import publish_gold

    run_build(obj.lake)
    publish_gold(obj.lake)
    _analyst_database(obj)


def _require(obj: Context, role: str, action: str) -> None:
    """Stop unless the local user holds `role`; a refusal is audited."""
    from pipelines.access import AccessDenied, require
    from pipelines.audit import AuditLog, local_actor

    try:
        require(role, obj.settings.access)
    except AccessDenied as exc:
        AuditLog(obj.lake).record(
            local_actor(), action, "denied", run_id=obj.run_id, role_needed=role
        )
        raise click.ClickException(str(exc)) from exc


def _restrict_new_deliveries(obj: Context, key: bytes) -> None:
    """Landing files delivered after a restriction hold the customer's clear values again:
    overwrite them in place (they have landed pseudonymised already). `key` is empty when
    nobody is restricted."""
    from pipelines.compliance.landing_rewrite import rewrite_customer_records
    from pipelines.compliance.restrictions import restricted_customers

    if key:
        for path in rewrite_customer_records(obj.lake, restricted_customers(obj.lake), key):
            log.info("landing_file_restricted", file=path)


def _pseudonym_key(obj: Context) -> bytes:
    """The key of every keyed pseudonym and hash (configured, or the key file outside the
    lake)."""
    from pipelines.compliance.pseudonyms import pseudonym_key

    key = obj.settings.pseudonym_key
    return pseudonym_key(key.get_secret_value() if key else None)


def _restriction_key(obj: Context) -> bytes:
    """The pseudonym key, when customers are on the restriction register."""
    from pipelines.compliance.restrictions import restricted_customers

    return _pseudonym_key(obj) if restricted_customers(obj.lake) else b""


def _suppression_key(obj: Context) -> bytes:
    """The key of the suppression list's hashes (the pseudonym key), when a list exists."""
    return _pseudonym_key(obj) if (obj.lake.ops / "suppression.json").exists() else b""


@cli.command()
@click.option("--email", required=True, help="The person's e-mail address.")
@click.option("--reason", default="erasure request (GDPR Art. 17)", show_default=True)
@click.option("--erase-in-crm", is_flag=True, help="Also call the CRM's GDPR delete.")
@click.pass_obj
@writes_lake
def suppress(obj: Context, email: str, reason: str, erase_in_crm: bool) -> None:
    """Put a person on the suppression list: CRM extracts never land them again."""
    _require(obj, "dpo", "suppress")
    from pipelines.audit import AuditLog, local_actor
    from pipelines.compliance.suppression import suppress as add_to_list

    added = add_to_list(obj.lake, _pseudonym_key(obj), email, reason)
    erased = None
    if erase_in_crm:
        from pipelines.crm.hubspot import HubSpotConnector

        with ExitStack() as stack:
            url, token = _crm_endpoint(obj, stack)
            erased = HubSpotConnector(url, token).erase_contact(email)
    who = _audit_subject(email, None)
    AuditLog(obj.lake).record(
        local_actor(), "suppress", "ok", target=who, run_id=obj.run_id,
        added=added, erased_in_crm=erased, reason=reason,
    )  # fmt: skip
    console.print(
        ("added to" if added else "already on")
        + " the suppression list"
        + ("" if erased is None else f"; CRM contact {'erased' if erased else 'not found'}")
    )


@cli.command()
@click.option("--email", default=None, help="The subject's e-mail address.")
@click.option("--customer", type=int, default=None, help="The subject's customer number.")
@click.option("--no-crm", is_flag=True, help="Do not call the CRM's erasure endpoint.")
@click.pass_obj
@writes_lake
def forget(obj: Context, email: str | None, customer: int | None, no_crm: bool) -> None:
    """Erase a person (GDPR Art. 17): CRM data deleted everywhere, accounting records under
    retention restricted (pseudonymised, amounts kept, erasable date registered), the CRM's
    erasure called, the person suppressed in later extracts. Role: dpo."""
    _require(obj, "dpo", "erasure")

    from pipelines.audit import AuditLog, local_actor, mirror_to_delta
    from pipelines.compliance.erasure import finish
    from pipelines.compliance.erasure import forget as erase
    from pipelines.compliance.suppression import suppress as add_to_list

    if bool(email) == bool(customer):
        raise click.UsageError("give exactly one of --email or --customer")
    key = _pseudonym_key(obj)
    report, subject = erase(obj.lake, key, email, customer)
    erased_in_crm = 0
    has_crm = bool(obj.settings.crm_base_url) or obj.lake.crm_sandbox_db.exists()
    if not no_crm and subject.emails and has_crm:
        from pipelines.crm.hubspot import HubSpotConnector

        with ExitStack() as stack:
            url, token = _crm_endpoint(obj, stack)
            connector = HubSpotConnector(url, token)
            erased_in_crm = sum(connector.erase_contact(e) for e in sorted(subject.emails))
    for e in sorted(subject.emails):
        add_to_list(obj.lake, key, e, "erasure request (GDPR Art. 17)")
    # the warehouse and gold are rebuilt from the corrected bronze, then history is purged
    if report.changed_anything():
        _rebuild(obj)
    AuditLog(obj.lake).record(
        local_actor(), "erasure", "ok", target=_audit_subject(email, customer),
        run_id=obj.run_id, customers=report.customers, deleted=report.deleted,
        restricted=report.restricted, erasable_on=report.erasable_on,
        erased_in_crm=erased_in_crm, landing_files_rewritten=len(report.landing_files_rewritten),
    )  # fmt: skip
    mirror_to_delta(obj.lake)
    if not report.changed_anything():
        console.print(
            "the lake holds nothing about this subject; "
            f"CRM contacts erased: {erased_in_crm}; suppressed: {len(subject.emails)}"
        )
        return
    finish(obj.lake, report)
    for location, n in report.deleted.items():
        console.print(f"deleted {n:,} rows from {location}")
    for location, n in report.restricted.items():
        console.print(f"restricted {n:,} rows in {location} (erasable on {report.erasable_on})")
    console.print(
        f"{len(report.landing_files_rewritten)} landing files rewritten; "
        f"{report.delta_tables_purged} Delta tables purged of history; "
        f"{report.dlt_packages_removed} dlt load packages removed; warehouse rebuilt and "
        f"compacted; CRM contacts erased: {erased_in_crm}; suppressed: {len(subject.emails)}"
    )


@cli.command()
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to judge retention on (default: today).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be purged; change nothing.")
@click.pass_obj
@writes_lake
def retention(obj: Context, as_of: datetime | None, dry_run: bool) -> None:
    """Purge what has passed its retention period: accounting records after 8 years from
    their year's end, restricted customers on their erasable day, operational data after a
    year, CRM records archived in the CRM. Role: dpo."""
    _require(obj, "dpo", "retention")
    from pipelines.audit import AuditLog, local_actor, mirror_to_delta
    from pipelines.compliance.erasure import ErasureReport, finish
    from pipelines.compliance.retention import apply_retention

    day = as_of.date() if as_of else datetime.now(UTC).date()
    report = apply_retention(obj.lake, day, dry_run)
    verb = "would purge" if dry_run else "purged"
    for location, n in report.purged.items():
        console.print(f"{verb} {n:,} rows from {location}")
    for path in report.files_removed:
        console.print(f"{'would remove' if dry_run else 'removed'} {path}")
    if report.customers_erased:
        console.print(
            f"{verb} restricted customers whose erasable day has come: "
            + ", ".join(str(c) for c in report.customers_erased)
        )
    if not report.purged and not report.files_removed:
        console.print(f"nothing has passed its retention period on {day.isoformat()}")
    if dry_run or not (report.purged or report.files_removed):
        return
    _rebuild(obj)
    AuditLog(obj.lake).record(
        local_actor(), "retention", "ok", run_id=obj.run_id, as_of=day.isoformat(),
        purged=report.purged, files_removed=len(report.files_removed),
        customers_erased=report.customers_erased,
    )  # fmt: skip
    mirror_to_delta(obj.lake)
    finish(obj.lake, ErasureReport())
    console.print("warehouse and gold rebuilt; Delta history purged; warehouse compacted")


@cli.group()
def cdc() -> None:
    """Journal (CDC) state: status, gap acknowledgement, drift against a full extract,
    re-baselining."""


def _journal(name: str):
    from pipelines.sources.journals.feeds import journal_by_name

    try:
        return journal_by_name(name)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="JOURNAL") from exc


@cdc.command("status")
@click.pass_obj
def cdc_status(obj: Context) -> None:
    """Per journal: applied through which sequence, baseline, open gap alerts."""
    from pipelines.sources.journals.apply import load_state
    from pipelines.sources.journals.feeds import JOURNALS

    for j in JOURNALS:
        st = load_state(obj.lake, j.name)
        if st["watermark"] is None:
            continue
        line = f"{j.name}: applied through {st['watermark']:,}; baseline {st['baseline']}"
        if st["gap"]:
            line += f"; [red]GAP {st['gap']['from']:,}-{st['gap']['to']:,} (halted)[/red]"
        if st["acknowledged_gaps"]:
            line += f"; acknowledged gaps {st['acknowledged_gaps']}"
        console.print(line)


@cdc.command("compact")
@click.pass_obj
@writes_lake
def cdc_compact(obj: Context) -> None:
    """Bring each journaled file's state (bronze/legacy_cdc/<table>) up to date."""
    from pipelines.extract import refresh_states

    for r in refresh_states(obj.lake, obj.run_id):
        what = "rewritten" if r.rows else (f"{r.merged:,} keys merged" if r.merged else "current")
        console.print(f"bronze/legacy_cdc/{r.journal}: {what}")


@cdc.command("ack-gap")
@click.argument("journal")
@click.option("--from", "low", type=int, required=True, help="First missing sequence.")
@click.option("--to", "high", type=int, required=True, help="Last missing sequence.")
@click.pass_obj
@writes_lake
def cdc_ack_gap(obj: Context, journal: str, low: int, high: int) -> None:
    """Accept that sequences FROM..TO will never arrive; the next apply goes past them."""
    from pipelines.audit import AuditLog, local_actor
    from pipelines.sources.journals.apply import acknowledge_gap

    if high < low:
        raise click.BadParameter("--to must not be below --from")
    acknowledge_gap(obj.lake, _journal(journal).name, low, high)
    AuditLog(obj.lake).record(
        local_actor(), "cdc_ack_gap", "ok", target=journal, run_id=obj.run_id, low=low, high=high
    )
    console.print(
        f"{journal}: gap {low:,}-{high:,} acknowledged; run `ledgerbridge extract journals`"
    )


@cdc.command("drift")
@click.argument("journal")
@click.option("--extract-date", default=None, help="Full extract to compare (default: latest).")
@click.option("--sequence", type=int, default=None, help="Journal position of that extract.")
@click.pass_obj
def cdc_drift(obj: Context, journal: str, extract_date: str | None, sequence: int | None) -> None:
    """Compare a landed full extract with the journal-maintained state (ops/cdc_drift)."""
    from pipelines.sources.journals.reconcile import drift

    report = drift(obj.lake, _journal(journal), obj.run_id, extract_date, sequence)
    kinds: dict[str, int] = {}
    for d in report.differences:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    console.print(
        f"{journal}: extract {report.extract_date} vs journal state at sequence "
        f"{report.sequence:,}: {report.rows_compared:,} rows, "
        + (", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in kinds.items()) or "no drift")
    )
    if report.note:
        console.print(f"  ({report.note})")
    for d in report.differences[:20]:
        detail = ""
        if d.get("column_name"):
            detail = (
                f" {d['column_name']}: extract {d['extract_value']!r}"
                f" vs journal {d['journal_value']!r}"
            )
        console.print(f"  {d['record_key']}: {d['kind'].replace('_', ' ')}{detail}")
    if report.differences:
        raise SystemExit(1)


@cdc.command("rebaseline")
@click.argument("journal")
@click.option("--extract-date", required=True, help="The landed full extract to start from.")
@click.option("--sequence", type=int, required=True, help="Journal position of that extract.")
@click.pass_obj
@writes_lake
def cdc_rebaseline(obj: Context, journal: str, extract_date: str, sequence: int) -> None:
    """Take a full extract as the state at SEQUENCE; later journal changes apply on top."""
    from datetime import date as date_type

    from pipelines.audit import AuditLog, local_actor
    from pipelines.sources.journals.apply import load_state, rebaseline, save_state
    from pipelines.sources.journals.read import JournalError

    feed = _journal(journal)
    state = load_state(obj.lake, feed.name)
    try:
        rows = rebaseline(obj.lake, feed, date_type.fromisoformat(extract_date), sequence, state)
    except (JournalError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    save_state(obj.lake, feed.name, state)
    AuditLog(obj.lake).record(
        local_actor(), "cdc_rebaseline", "ok", target=journal, run_id=obj.run_id,
        extract_date=extract_date, sequence=sequence, rows=rows,
    )  # fmt: skip
    console.print(
        f"{journal}: baseline = extract {extract_date} ({rows:,} rows) at sequence {sequence:,}"
    )


@cli.group()
def audit() -> None:
    """The audit log of runs, write-backs and API requests."""


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Context) -> None:
    """Check the hash chain: any altered or removed entry is reported by its line."""
    from pipelines.audit import AuditLog, verify, verify_mirror

    result = verify(AuditLog(obj.lake).path)
    if result.problem:
        raise click.ClickException(f"audit log {AuditLog(obj.lake).path}: {result.problem}")
    mirror = verify_mirror(obj.lake)
    if mirror:
        raise click.ClickException(mirror)
    console.print(f"audit log intact: {result.entries:,} entries (Delta mirror consistent)")


@cli.command()
@click.argument("copybook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--free-format", is_flag=True, help="Free-format source (no sequence area).")
def layout(copybook: Path, free_format: bool) -> None:
    """Print a copybook's record layouts: field, level, offset, length, type."""
    from rich.table import Table

    from pipelines.copybook import CopybookError, parse_copybook

    try:
        records = parse_copybook(
            copybook.read_text(encoding="utf-8", errors="replace"), free_format=free_format
        )
    except CopybookError as exc:
        raise click.ClickException(f"{copybook}: {exc}") from exc
    out = Console(width=max(100, console.width))
    for rec in records.values():
        t = Table(title=f"{rec.name} ({rec.size} bytes)", title_justify="left")
        for col, justify in (
            ("field", "left"),
            ("level", "right"),
            ("offset", "right"),
            ("length", "right"),
            ("type", "left"),
        ):
            t.add_column(col, justify=justify)
        for f in rec.fields:
            t.add_row(f.name, f"{f.level:02d}", str(f.offset), str(f.size), f.type_text)
        out.print(t)


def _segment_map(text: str | None) -> dict[str, str]:
    """`C=COMPANY,P=PERSON` (or `C;D=STATIC-DETAILS`) → segment id → REDEFINES branch."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        ids, sep, branch = part.partition("=")
        if not sep or not branch.strip():
            raise click.BadParameter(f"{part!r}: expected ID=BRANCH", param_hint="--segment-map")
        for seg in ids.split(";"):
            out[seg.strip()] = branch.strip().upper()
    return out


def _field_encodings(text: str | None, layout: object) -> dict[str, str]:
    """`CUST-NAME=cp037,…` → field → code page, each name and code page checked."""
    from pipelines.decoding.codepages import CodePageError, codec_name

    out: dict[str, str] = {}
    known = {f.name for f in layout.fields} | {f.column for f in layout.fields}  # type: ignore[attr-defined]
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, page = part.partition("=")
        name, page = name.strip(), page.strip()
        if not sep or not page:
            raise click.BadParameter(
                f"{part!r}: expected FIELD=CODEPAGE", param_hint="--field-encoding"
            )
        if name.upper() not in known and name not in known:
            raise click.BadParameter(
                f"{name}: no such field in the copybook", param_hint="--field-encoding"
            )
        try:
            codec_name(page)
        except CodePageError as exc:
            raise click.BadParameter(str(exc), param_hint="--field-encoding") from exc
        out[name if name in known else name.upper()] = page
    return out


def _worker_count(text: str, size: int) -> int:
    """Worker processes for a file of `size` bytes. A worker takes about 1.5 s to start
    (imports, loading the compiled kernels) while one process decodes ~300 MB/s, so
    `auto` uses them from 512 MB on."""
    if text == "auto":
        return (os.cpu_count() or 1) if size >= 512 << 20 else 1
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"{text!r}: a positive number or auto", param_hint="--workers")
    return int(text)


@cli.command()
@click.argument("data")
@click.option(
    "--copybook",
    "copybook_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--record", "record_name", default=None, help="01 record to use (default: first).")
@click.option(
    "--encoding",
    default="cp037",
    show_default=True,
    help="cp037, cp273, cp500, cp1047, cp1140, cp1141, cp1148, common, ascii, …",
)
@click.option(
    "--record-format", type=click.Choice(["F", "FB", "V", "VB"]), default="F", show_default=True
)
@click.option(
    "--field-encoding",
    default=None,
    help="FIELD=CODEPAGE,… per-field code page overriding --encoding.",
)
@click.option("--record-length", type=int, default=None, help="F/FB: bytes per record.")
@click.option("--rdw-little-endian", is_flag=True, help="RDW/BDW lengths are little-endian.")
@click.option(
    "--rdw-excludes-header",
    is_flag=True,
    help="RDW lengths do not count the 4 RDW bytes (IBM's do).",
)
@click.option("--rdw-adjustment", type=int, default=0, help="Added to every RDW length.")
@click.option("--file-start-offset", type=int, default=0, help="File header bytes to skip.")
@click.option("--file-end-offset", type=int, default=0, help="File footer bytes to skip.")
@click.option(
    "--dialect",
    type=click.Choice(["mainframe", "gnucobol", "microfocus"]),
    default="mainframe",
    show_default=True,
)
@click.option("--segment-field", default=None, help="Field holding the segment id.")
@click.option("--segment-map", default=None, help="ID=BRANCH,… REDEFINES branch per segment.")
@click.option(
    "--trim",
    type=click.Choice(["right", "left", "both", "none"]),
    default="right",
    show_default=True,
)
@click.option(
    "--floating-point",
    type=click.Choice(["ibm", "ieee"]),
    default="ibm",
    show_default=True,
    help="COMP-1/COMP-2 format.",
)
@click.option(
    "--debug",
    "debug_cols",
    type=click.Choice(["none", "hex", "raw"]),
    default="none",
    help="Add <field>_debug columns with the raw bytes.",
)
@click.option("--free-format", is_flag=True, help="Free-format copybook source.")
@click.option(
    "--fillers",
    type=click.Choice(["drop", "values", "groups", "all"]),
    default="drop",
    show_default=True,
    help="Which FILLERs to output.",
)
@click.option(
    "--filler-naming",
    type=click.Choice(["sequence", "previous"]),
    default="sequence",
    show_default=True,
)
@click.option(
    "--display-numbers",
    type=click.Choice(["strict", "relaxed"]),
    default="strict",
    show_default=True,
    help="relaxed: spaces/x'00' around DISPLAY digits ignored.",
)
@click.option("--low-values-null", is_flag=True, help="All-x'00' text fields are null.")
@click.option(
    "--segment-children",
    default=None,
    help="PARENT=CHILD;CHILD,… nest child segments under their parent record (JSON output).",
)
@click.option(
    "--variable-size-occurs",
    is_flag=True,
    help="OCCURS DEPENDING ON arrays take only their present elements' bytes.",
)
@click.option(
    "--output",
    "output",
    default=None,
    help="OUT.jsonl, OUT.parquet or OUT.csv (default: JSON Lines on stdout).",
)
@click.option("--strict", is_flag=True, help="Stop at the first value that does not decode.")
@click.option(
    "--workers",
    default="auto",
    show_default=True,
    help="Worker processes: a number, or auto (all cores for files of 512 MB and more).",
)
def decode(
    data: str,
    copybook_path: Path,
    record_name: str | None,
    encoding: str,
    record_format: str,
    record_length: int | None,
    rdw_little_endian: bool,
    rdw_excludes_header: bool,
    rdw_adjustment: int,
    file_start_offset: int,
    file_end_offset: int,
    dialect: str,
    segment_field: str | None,
    segment_map: str | None,
    trim: str,
    floating_point: str,
    debug_cols: str,
    free_format: bool,
    output: str | None,
    strict: bool,
    variable_size_occurs: bool,
    fillers: str,
    filler_naming: str,
    display_numbers: str,
    low_values_null: bool,
    segment_children: str | None,
    field_encoding: str | None,
    workers: str,
) -> None:
    """Decode a legacy data file with its copybook (JSON Lines by default)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pipelines.copybook import CopybookError, parse_copybook
    from pipelines.decoding.codepages import CodePageError, codec_name
    from pipelines.decoding.decode_file import StrictModeError, decode_file
    from pipelines.decoding.framing import Framing, FramingError
    from pipelines.decoding.json_lines import render_json_lines
    from pipelines.decoding.memory import reuse_freed_memory
    from pipelines.decoding.nested import assemble_hierarchy, nest, to_json
    from pipelines.decoding.parallel import DecoderPool
    from pipelines.decoding.records import DecodeOptions

    reuse_freed_memory()

    try:
        codec_name(encoding)
        records = parse_copybook(
            copybook_path.read_text(encoding="utf-8", errors="replace"),
            free_format=free_format,
            fillers=fillers,
            filler_naming=filler_naming,
        )
    except (CopybookError, CodePageError) as exc:
        raise click.ClickException(f"{copybook_path}: {exc}") from exc
    name = (record_name or next(iter(records))).upper()
    if name not in records:
        raise click.ClickException(
            f"{copybook_path} has no record {name}; it has {', '.join(records)}"
        )
    layout = records[name]
    framing = Framing(
        record_format=record_format,
        record_length=record_length,
        rdw_big_endian=not rdw_little_endian,
        rdw_includes_header=not rdw_excludes_header,
        rdw_adjustment=rdw_adjustment,
        file_start_offset=file_start_offset,
        file_end_offset=file_end_offset,
    )
    opts = DecodeOptions(
        codepage=encoding,
        trim=trim,
        float_format=floating_point,
        dialect=dialect,
        debug=debug_cols,
        segment_field=segment_field,
        segment_map=_segment_map(segment_map),
        display_numbers=display_numbers,
        low_values_text_null=low_values_null,
        field_codepages=_field_encodings(field_encoding, layout),
    )
    children = {
        parent.strip().upper(): [c.strip().upper() for c in kids.split(";") if c.strip()]
        for parent, _, kids in (p.partition("=") for p in (segment_children or "").split(","))
        if parent.strip()
    }
    if children and (not segment_field or not opts.segment_map):
        raise click.UsageError("--segment-children needs --segment-field and --segment-map")
    read = with_errors = 0
    writer = None
    sink = click.get_text_stream("stdout") if not output or output.endswith(".jsonl") else None
    handle = open(output, "w", encoding="utf-8") if output and output.endswith(".jsonl") else None  # noqa: SIM115
    import fsspec

    from pipelines.progress import bytes_bar

    stack = ExitStack()
    try:
        fs, fs_path = fsspec.core.url_to_fs(data)
        bar = stack.enter_context(bytes_bar())
        task = bar.add_task(f"decoding {Path(fs_path).name}", total=fs.size(fs_path))
        out = handle or sink

        n_workers = _worker_count(workers, fs.size(fs_path))
        if n_workers > 1 and not variable_size_occurs:
            pool = stack.enter_context(DecoderPool(n_workers))
            batches = pool.decode(data, layout, opts, framing, strict)
        else:
            batches = decode_file(data, layout, opts, framing, strict, variable_size_occurs)

        def json_records() -> Iterator[tuple[dict, str]]:
            nonlocal read, with_errors, writer
            for batch in batches:
                bar.update(task, completed=batch.end_offset)
                read += batch.table.num_rows
                with_errors += len(batch.errors)
                if output and output.endswith(".parquet"):
                    writer = writer or pq.ParquetWriter(output, batch.table.schema)
                    writer.write_table(batch.table)
                    continue
                if output and output.endswith(".csv"):
                    writer = writer or pacsv.CSVWriter(output, batch.table.schema)
                    writer.write_table(batch.table)
                    continue
                if not children:
                    out.write(render_json_lines(batch.table, layout, batch.errors))
                    continue
                for i, row in enumerate(batch.table.to_pylist()):
                    record = nest(row, layout)
                    if i in batch.errors:
                        record["_errors"] = batch.errors[i]
                    seg = row[layout.field(segment_field).column] if segment_field else ""
                    yield record, opts.segment_map.get(str(seg).strip(), "")

        if children:
            for root in assemble_hierarchy(json_records(), children):
                out.write(to_json(root) + "\n")
        else:
            for _ in json_records():  # every batch is written as it is decoded
                pass
    except (FramingError, StrictModeError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        stack.close()
        if writer is not None:
            writer.close()
        if handle is not None:
            handle.close()
    console.print(
        f"{data}: {read:,} records decoded, {with_errors:,} with values that did "
        "not decode (null, listed in _errors)"
    )


def _analyst_database(obj: Context, rebuilt: set[tuple[str, str]] | None = None) -> dict[str, int]:
    """The analysts' copy of the warehouse, personal columns pseudonymised (carried forward
    after a journal increment: `rebuilt` names the tables the build rebuilt)."""
    from pipelines.compliance.pseudonyms import build_analyst_database

    return build_analyst_database(obj.lake, _pseudonym_key(obj), rebuilt)


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option(
    "--role",
    type=click.Choice(["analyst", "finance"]),
    default="analyst",
    show_default=True,
    help="analyst: personal columns pseudonymised; finance: the restricted warehouse.",
)
@click.pass_obj
def sql(obj: Context, query: str, fmt: str, role: str) -> None:
    """Run one read-only SELECT (analysts see pseudonyms, finance the clear values). The
    query can read nothing but that database: no files, no other database, no settings."""
    from pipelines.audit import AuditLog, local_actor
    from pipelines.serving.sql_sandbox import SqlRefused, run_query

    _require(obj, role, "sql_query")
    path = obj.lake.warehouse if role == "finance" else obj.lake.root / "analyst.duckdb"
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]

    def audit(outcome: str, **details: object) -> None:
        if obj.lake.audit.parent.exists():
            AuditLog(obj.lake).record(
                local_actor(),
                "sql_query",
                outcome,
                target=role,
                run_id=obj.run_id,
                query_sha256=digest,
                **details,
            )

    try:
        cols, rows = run_query(path, query)
    except SqlRefused as exc:
        audit("refused", reason=str(exc))
        raise click.ClickException(str(exc)) from exc
    except FileNotFoundError as exc:
        audit("failed", reason=str(exc))
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:  # duckdb raises many error types; all are the user's query
        reason = str(exc).strip().splitlines()[0][:300]
        audit("failed", reason=reason)
        raise click.ClickException(f"query failed: {reason}") from exc
    audit("ok", rows=len(rows))
    if not cols:
        return
    out = click.get_text_stream("stdout")
    if fmt == "json":
        out.write(
            json.dumps(
                [dict(zip(cols, r, strict=True)) for r in rows],
                default=str,
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        )
    elif fmt == "csv":
        import csv

        w = csv.writer(out)
        w.writerow(cols)
        w.writerows(rows)
    else:
        from rich.table import Table

        t = Table(*cols)
        for r in rows:
            t.add_row(*("" if v is None else str(v) for v in r))
        Console().print(t)


def main() -> None:
    code: int | str | None = 0
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exc.code
    _leave(code)


def _leave(code: int | str | None) -> None:
    """Exit without interpreter finalization.

    deltalake's Rust runtime can abort the process ("terminate called without an active
    exception", exit -6) when Python tears down while its threads are alive (delta-rs issue
    2184): a command that succeeded would report a crash. The atexit handlers still run and
    every stream is flushed first; only the module teardown is skipped."""
    import atexit
    import logging

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code or 0)


__all__ = ["Path", "cli", "main"]


if __name__ == "__main__":
    main()
