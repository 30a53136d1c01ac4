"""The `ledgerbridge` command line. Every command takes `--lake` (env LEDGERBRIDGE_LAKE)."""

from __future__ import annotations

import json
import resource
import secrets
import sys
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import click
import structlog
from rich.console import Console

from pipelines.config import Settings, load_settings
from pipelines.lake import Lake, LakeLocationError
from pipelines.logs import configure_logging, new_run_id
from pipelines.progress import console, count_bar

log = structlog.get_logger("ledgerbridge")


class Context:
    def __init__(self, settings: Settings, lake: Lake, run_id: str) -> None:
        self.settings = settings
        self.lake = lake
        self.run_id = run_id


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
@click.pass_context
def cli(ctx: click.Context, lake_url: str | None, log_json: bool) -> None:
    """ledgerbridge: legacy finance extracts + CRM → Delta lake → dbt marts → CRM."""
    settings = load_settings(lake=lake_url)
    try:
        lake = Lake.from_url(settings.lake)
    except LakeLocationError as exc:
        raise click.UsageError(str(exc)) from exc
    run_id = new_run_id()
    needs_dir = ctx.invoked_subcommand not in (None, "sql", "layout")
    configure_logging(lake.logs if needs_dir else None, run_id, settings.log_level, log_json)
    ctx.obj = Context(settings, lake, run_id)


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


def _extract(obj: Context, what: str):
    from pipelines.extract import ExtractResult, extract_crm, extract_legacy

    result = ExtractResult()
    if what in ("legacy", "all"):
        result = extract_legacy(obj.lake)
    if what in ("crm", "all"):
        with ExitStack() as stack:
            url, token = _crm_endpoint(obj, stack)
            result.crm_rows = extract_crm(obj.lake, url, token).crm_rows
    return result


@cli.command()
@click.argument("what", type=click.Choice(["legacy", "crm", "all"]), default="all")
@click.pass_obj
def extract(obj: Context, what: str) -> None:
    """Land new legacy files and CRM changes as bronze Delta tables (dlt)."""
    obj.lake.ensure()
    result = _extract(obj, what)
    for f in result.files:
        console.print(
            f"{f.file}: {f.status} — read {f.records_read:,}, landed "
            f"{f.records_landed:,}, quarantined {f.records_quarantined:,}"
            + (f" — {f.reason}" if f.reason else "")
        )
    if result.crm_rows:
        console.print("CRM rows: " + ", ".join(f"{k} {v:,}" for k, v in result.crm_rows.items()))


@cli.command()
@click.pass_obj
def build(obj: Context) -> None:
    """Build the dbt models and run their tests into <lake>/warehouse.duckdb."""
    from pipelines.build import build as run_build

    res = run_build(obj.lake)
    console.print(
        f"dbt: {res.seeds} seeds, {res.models} models, {res.tests} tests passed"
        + (f", {len(res.warnings)} warnings" if res.warnings else "")
    )


@cli.command()
@click.pass_obj
def publish(obj: Context) -> None:
    """Publish the gold marts as Delta tables under <lake>/gold."""
    from pipelines.publish import publish_gold

    for table, n in publish_gold(obj.lake).items():
        console.print(f"gold/{table}: {n:,} rows")


@cli.command()
@click.option("--customers", type=int, default=None, help="Demo size if the demo is generated.")
@click.pass_obj
def run(obj: Context, customers: int | None) -> None:
    """The main job: demo sources if absent, extract, build, publish, summary."""
    from pipelines.build import build as run_build
    from pipelines.demo.generate import demo_exists
    from pipelines.publish import publish_gold
    from pipelines.summary import print_summary

    started = time.monotonic()
    obj.lake.ensure()
    log.info("run_started", lake=str(obj.lake.root))
    if not demo_exists(obj.lake) and not obj.settings.crm_base_url:
        _demo(obj, customers, None, None)
    result = _extract(obj, "all")
    _phase("extract", started)
    res = run_build(obj.lake)
    for w in res.warnings:
        log.warning("dbt_test_warning", detail=w)
    _phase("build", started)
    publish_gold(obj.lake)
    _phase("publish", started)
    seconds = time.monotonic() - started
    figures = print_summary(
        obj.lake, result, seconds, _peak_mib(), Console(width=max(110, console.width))
    )
    log.info(
        "run_finished",
        seconds=round(seconds, 1),
        peak_mib=round(_peak_mib()),
        quarantined=figures.quarantined,
    )


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


@cli.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_obj
def sql(obj: Context, query: str, fmt: str) -> None:
    """Run a read-only SQL query on the warehouse."""
    from pipelines.warehouse import connect

    try:
        con = connect(obj.lake.warehouse, read_only=True)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        cur = con.execute(query)
        if cur.description is None:
            return
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    except Exception as exc:  # duckdb raises many error types; all are the user's query
        raise click.ClickException(f"query failed: {exc}") from exc
    finally:
        con.close()
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
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["Path", "cli", "main"]


if __name__ == "__main__":
    main()
