"""`ledgerbridge build`: run dbt (seeds, models, tests) into the lake's DuckDB warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from pipelines.config import CHECKOUT_ROOT
from pipelines.lake import Lake
from pipelines.warehouse import ensure_extensions

log = structlog.get_logger(__name__)
DBT_PROJECT = CHECKOUT_ROOT / "dbt_project"


class BuildFailed(RuntimeError):
    """dbt reported errors; the message lists the failing nodes."""


@dataclass
class BuildResult:
    models: int = 0
    tests: int = 0
    seeds: int = 0
    warnings: list[str] = field(default_factory=list)


def dbt_env(lake: Lake) -> dict[str, str]:
    return {
        "LEDGERBRIDGE_WAREHOUSE": str(lake.warehouse),
        "LEDGERBRIDGE_BRONZE": str(lake.bronze),  # a folder or an s3:// URL
        "LEDGERBRIDGE_OPS": str(lake.ops),
        "LEDGERBRIDGE_DUCKDB_EXTENSIONS": str(ensure_extensions()),
        "DBT_TARGET_PATH": str(lake.state / "dbt" / "target"),
        "DBT_LOG_PATH": str(lake.state / "dbt" / "logs"),
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
    proc = subprocess.run(cli, env=env, capture_output=True, text=True, check=False)
    run_results = Path(env["DBT_TARGET_PATH"]) / "run_results.json"
    result = BuildResult()
    failures: list[str] = []
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    for r in results:
        kind = r["unique_id"].split(".", 1)[0]
        status = r["status"]
        if kind == "model":
            result.models += 1
        elif kind == "test":
            result.tests += 1
        elif kind == "seed":
            result.seeds += 1
        if status in ("error", "fail", "runtime error"):
            failures.append(f"{r['unique_id']}: {status}: {r.get('message')}")
        elif status == "warn":
            result.warnings.append(f"{r['unique_id']}: {r.get('message')}")
    if proc.returncode != 0 or failures:
        detail = "\n".join(failures) or (proc.stdout + proc.stderr)[-4000:]
        raise BuildFailed(f"dbt {' '.join(args)} failed:\n{detail}")
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
    return {"has_restrictions": (lake.ops / "restrictions" / "_delta_log").is_dir()}


def build(lake: Lake) -> BuildResult:
    """dbt build (seeds, models, tests) of the whole project."""
    return run_dbt(lake, ["build", "--vars", json.dumps(build_vars(lake))])


def inputs_fingerprint(lake: Lake) -> str:
    """What the warehouse and gold are built from: the version of every bronze Delta table
    and of the restriction register, and the dbt project's files. Equal fingerprints mean a
    rebuild would produce the same marts."""
    import hashlib

    from deltalake import DeltaTable

    digest = hashlib.sha256()
    base = str(lake.data).rstrip("/")
    for table in lake.delta_tables():
        rel = table[len(base) :] if table.startswith(base) else table
        if rel.lstrip("/").startswith(("bronze/", "ops/restrictions")):
            digest.update(f"{rel}={DeltaTable(table).version()}\n".encode())
    for folder in (CHECKOUT_ROOT / "models", CHECKOUT_ROOT / "seeds", DBT_PROJECT):
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.suffix in (".sql", ".yml", ".csv") and "target" not in f.parts:
                digest.update(f.relative_to(CHECKOUT_ROOT).as_posix().encode())
                digest.update(hashlib.sha256(f.read_bytes()).digest())
    digest.update(json.dumps(build_vars(lake), sort_keys=True).encode())
    return digest.hexdigest()


def _published_path(lake: Lake) -> Path:
    return lake.state / "dbt" / "published_inputs.txt"


def nothing_new(lake: Lake, fingerprint: str) -> bool:
    """The warehouse and gold were built and published from exactly these inputs."""
    path = _published_path(lake)
    return lake.warehouse.exists() and path.exists() and path.read_text().strip() == fingerprint


def record_published(lake: Lake, fingerprint: str) -> None:
    from pipelines.storage import write_text_atomically

    write_text_atomically(_published_path(lake), fingerprint)
