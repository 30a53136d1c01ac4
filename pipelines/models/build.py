"""`ledgerbridge build`: run dbt (seeds, models, tests) into the lake's DuckDB warehouse."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from pipelines.config import CHECKOUT_ROOT
from pipelines.lake.paths import Lake
from pipelines.models.warehouse import ensure_extensions

log = structlog.get_logger(__name__)
DBT_PROJECT = CHECKOUT_ROOT / "dbt_project"
PR_SET_PDEATHSIG = 1
# loaded before any fork: the child only calls into it (no import, no lock taken)
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """For the dbt child, run between fork and exec: the kernel kills it when the process
    that started it dies, so a killed `run` does not leave dbt writing the warehouse
    behind the lock the next writer takes (pipelines/lake/lock.py)."""

    def arm() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above: go now
            os._exit(1)

    return arm


class BuildFailed(RuntimeError):
    """dbt reported errors; the message lists the failing nodes."""


@dataclass
class BuildResult:
    models: int = 0
    tests: int = 0
    seeds: int = 0
    unit_tests: int = 0
    warnings: list[str] = field(default_factory=list)
    plan: BuildPlan | None = None
    built: set[tuple[str, str]] = field(default_factory=set)  # (schema, table) rebuilt


def dbt_env(lake: Lake) -> dict[str, str]:
    return {
        "LEDGERBRIDGE_WAREHOUSE": str(lake.warehouse),
        "LEDGERBRIDGE_BRONZE": str(lake.bronze),  # a folder or an s3:// URL
        "LEDGERBRIDGE_OPS": str(lake.ops),
        "LEDGERBRIDGE_DUCKDB_EXTENSIONS": str(ensure_extensions()),
        "DBT_TARGET_PATH": str(lake.dbt_target),
        "DBT_LOG_PATH": str(lake.dbt_logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_dbt(lake: Lake, args: list[str]) -> BuildResult:
    """Run a dbt command against this lake; raise BuildFailed on any error.

    dbt runs in a child process: its DuckDB connection (and memory) end with it, so the
    warehouse file is free for publishing and querying afterwards.
    """
    env = os.environ | dbt_env(lake)
    dbt = Path(sys.executable).parent / "dbt"
    cli = [
        str(dbt),
        "--quiet",
        "--no-use-colors",
        *args,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
    ]
    proc = subprocess.run(
        cli,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_die_with_parent(os.getpid()),  # no import, no lock: safe after fork
    )
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    result = BuildResult()
    failures: list[str] = []
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    manifest_path = Path(env["DBT_TARGET_PATH"]) / "manifest.json"
    nodes = json.loads(manifest_path.read_text())["nodes"] if manifest_path.exists() else {}
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        status = r["status"]
        node = nodes.get(r["unique_id"])
        if kind in ("model", "seed") and node and status == "success":
            result.built.add((node["schema"], node.get("alias") or node["name"]))
        if kind == "model":
            result.models += 1
        elif kind == "test":
            result.tests += 1
        elif kind == "seed":
            result.seeds += 1
        elif kind == "unit_test":
            result.unit_tests += 1
        if status in ("error", "fail", "runtime error"):
            failures.append(f"{r['unique_id']}: {status}: {r.get('message')}")
        elif status == "warn":
            result.warnings.append(f"{r['unique_id']}: {r.get('message')}")
    if proc.returncode != 0 or failures:
        detail = "\n".join(failures) or (proc.stdout + proc.stderr)[-4000:]
        # the first line is what a person is shown: which node failed first, and how many
        first = failures[0].split("\n", 1)[0][:300] if failures else "see the dbt log"
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise BuildFailed(f"dbt {args[0]} failed: {first}{more}\n{detail}")
    log.info(
        "dbt_build",
        models=result.models,
        tests=result.tests,
        seeds=result.seeds,
        warnings=len(result.warnings),
    )
    return result


def build_vars(lake: Lake) -> dict[str, bool]:
    """The one dbt variable: whether the restriction register exists yet. Every other model
    is always built: `build` builds exactly what `run` builds."""
    return {"has_restrictions": (lake.restriction_register / "_delta_log").is_dir()}


@dataclass
class BuildPlan:
    """What a build does: a full refresh, or the journal increment (only the rows the
    journal changes since the last published build touch; see
    dbt_project/macros/journal_increment.sql)."""

    mode: str  # "full" or "journal_increment"
    why: str
    journal_since: dict[str, int] | None = None


RECEIVER_LOG = "legacy_cdc/receiver_log"


def inputs_snapshot(lake: Lake) -> dict:
    """What the warehouse and gold are built from: the version of every bronze Delta table
    and of the restriction register, the dbt project's files, and where each journaled
    file's state stands (baseline, applied-through sequence, as-of day)."""
    import hashlib

    from deltalake import DeltaTable

    tables: dict[str, int] = {}
    base = str(lake.data).rstrip("/")
    for table in lake.delta_tables():
        rel = table[len(base) :] if table.startswith(base) else table
        rel = rel.lstrip("/")
        # the journals' file log records receivers, refused ones included: not a model input
        if rel.startswith(("bronze/", "ops/restrictions")) and not rel.endswith(RECEIVER_LOG):
            tables[rel] = DeltaTable(table).version()
    digest = hashlib.sha256()
    for folder in (CHECKOUT_ROOT / "models", CHECKOUT_ROOT / "seeds", DBT_PROJECT):
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix in (".sql", ".yml", ".csv") and "target" not in f.parts:
                digest.update(f.relative_to(CHECKOUT_ROOT).as_posix().encode())
                digest.update(hashlib.sha256(f.read_bytes()).digest())
    digest.update(json.dumps(build_vars(lake), sort_keys=True).encode())
    return {"project": digest.hexdigest(), "tables": tables, "positions": _positions(lake)}


def _positions(lake: Lake) -> dict[str, dict]:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        rows = DeltaTable(lake.url_of(lake.cdc_positions)).to_pyarrow_table()
    except TableNotFoundError:
        return {}
    return {
        r["journal"]: {
            "baseline_extract_date": str(r["baseline_extract_date"]),
            "baseline_sequence": r["baseline_sequence"],
            "applied_through_sequence": r["applied_through_sequence"],
            "as_of_date": str(r["as_of_date"]),
        }
        for r in rows.to_pylist()
    }


def _published_path(lake: Lake) -> Path:
    return lake.published_inputs


def last_published(lake: Lake) -> dict | None:
    path = _published_path(lake)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def nothing_new(lake: Lake, snapshot: dict) -> bool:
    """The warehouse and gold were built and published from exactly these inputs."""
    return lake.warehouse.exists() and last_published(lake) == snapshot


def record_published(lake: Lake, snapshot: dict) -> None:
    from pipelines.lake.storage import write_text_atomically

    write_text_atomically(_published_path(lake), json.dumps(snapshot, sort_keys=True))


def plan_build(lake: Lake, snapshot: dict | None = None) -> BuildPlan:
    """The journal increment when the only new input since the last published build is
    journal changes applied on the same baselines within the same as-of day; a full
    refresh otherwise (the reason is logged and shown)."""
    now = snapshot or inputs_snapshot(lake)
    last = last_published(lake)
    if last is None or not lake.warehouse.exists():
        return BuildPlan("full", "no earlier build to add to")
    if last.get("project") != now["project"]:
        return BuildPlan("full", "the dbt project, seeds or build variables changed")
    before, after = last.get("tables", {}), now["tables"]
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    other = [t for t in changed if not t.startswith("bronze/legacy_cdc/")]
    if other:
        return BuildPlan("full", f"new data beyond the journals: {', '.join(other[:3])}")
    if not changed:
        return BuildPlan("full", "nothing changed (a rebuild was asked for)")
    since: dict[str, int] = {}
    for journal, pos in now["positions"].items():
        old = last.get("positions", {}).get(journal)
        if old is None:
            return BuildPlan("full", f"journal {journal} has no earlier position")
        for item in ("baseline_extract_date", "baseline_sequence"):
            if old[item] != pos[item]:
                return BuildPlan("full", f"journal {journal}: a new full extract (re-baseline)")
        if old["as_of_date"] != pos["as_of_date"]:
            return BuildPlan(
                "full", f"journal {journal}: a new as-of day moves every document's ageing"
            )
        since[journal] = int(old["applied_through_sequence"])
    return BuildPlan("journal_increment", "only journal changes since the last build", since)


def _write_journal_since(lake: Lake, since: dict[str, int]) -> None:
    """The increment's lower bounds, where the dbt models read them (main.lb_journal_since)."""
    from pipelines.models.warehouse import connect

    con = connect(lake.warehouse)
    try:
        con.execute(
            "create or replace table main.lb_journal_since "
            "(journal varchar primary key, applied_through_sequence bigint not null)"
        )
        if since:
            con.executemany("insert into main.lb_journal_since values (?, ?)", list(since.items()))
    finally:
        con.close()


def build(lake: Lake, plan: BuildPlan | None = None) -> BuildResult:
    """dbt build (seeds, models, tests): a full refresh, or the journal increment — the
    models downstream of the legacy state only, each rebuilding the touched rows."""
    plan = plan or BuildPlan("full", "asked for")
    increment = plan.mode == "journal_increment"
    variables = json.dumps(build_vars(lake))
    # empty outside an increment: the key models then list no key
    _write_journal_since(lake, plan.journal_since if increment else {})
    if increment:
        # the models downstream of the legacy state; the baselines did not change (else
        # the build is a full one), so their tests are not run again
        args = ["build", "--select", "source:legacy_cdc+", "--vars", variables]
        args += ["--exclude", "source:legacy_cdc.customers_base source:legacy_cdc.open_items_base"]
        # the models' logic is unchanged since the full build ran their unit tests
        args += ["--exclude-resource-type", "unit_test"]
    else:
        args = ["build", "--full-refresh", "--vars", variables]
    log.info("dbt_build_plan", mode=plan.mode, why=plan.why, journal_since=plan.journal_since)
    result = run_dbt(lake, args)
    result.plan = plan
    if not increment:
        _drop_retired_relations(lake)
    return result


def _drop_retired_relations(lake: Lake) -> None:
    """After a full build, tables and views in the models' schemas that no dbt node makes
    any more (a model renamed or removed) are dropped: a stale copy would keep data no
    model maintains, the analysts' copy would carry it, and an erasure would miss it."""
    from pipelines.models.warehouse import connect

    manifest = lake.dbt_target / "manifest.json"
    if not manifest.exists():
        return
    nodes = json.loads(manifest.read_text())["nodes"].values()
    known = {
        (n["schema"], n.get("alias") or n["name"])
        for n in nodes
        if n["resource_type"] in ("model", "seed", "snapshot")
    }
    schemas = {schema for schema, _ in known}
    con = connect(lake.warehouse)
    try:
        found = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall()
        for schema, name, kind in found:
            if schema in schemas - {"main"} and (schema, name) not in known:
                what = "view" if kind == "VIEW" else "table"
                con.execute(f'drop {what} if exists "{schema}"."{name}"')
                log.info("warehouse_relation_retired", relation=f"{schema}.{name}")
    finally:
        con.close()
