"""The lake's layout: every path a run writes is derived from one root, so two lakes never mix.

Two roots: `data` holds the lake proper — landing files, bronze and gold Delta tables,
operational tables — on local disk or in an object store (`s3://bucket/prefix`, as a
universal_pathlib path over s3fs); `root` is the compute side's own working folder (the
DuckDB warehouse, dlt's and dbt's working state, run logs, the append-only audit log),
always local. For a local lake the two are the same folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


class LakeLocationError(ValueError):
    """The lake URL cannot be used (unsupported scheme, not a directory, …)."""


# what a lake's (local) folder holds: anything else means it is some other folder
LAKE_ENTRIES = frozenset(
    {"landing", "bronze", "gold", "ops", "audit", "logs", "state", "demo", "inbox", "lake.lock"}
    | {"README.md", ".gitignore"}  # the checkout's own lake/ folder
)
LAKE_FILE_PREFIXES = ("warehouse.duckdb", "analyst.duckdb", "published.duckdb", ".")

OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")


def _work_dir(url: str) -> Path:
    """The local working folder of an object-store lake (LEDGERBRIDGE_WORK_DIR overrides)."""
    configured = os.environ.get("LEDGERBRIDGE_WORK_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "ledgerbridge" / "lakes" / digest


@dataclass(frozen=True)
class Lake:
    """Paths of one lake (see the module docstring for the two roots)."""

    root: Path
    data: Any = None  # Path, or upath.UPath for an object store; defaults to root
    residency: Any = field(default=None, compare=False)  # residency.Residency when checked

    def __post_init__(self) -> None:
        if self.data is None:
            object.__setattr__(self, "data", self.root)

    @classmethod
    def from_url(cls, url: str, region: str | None = None, endpoint: str | None = None) -> Lake:
        """A lake at `url`. Object-store locations are checked for EU residency first, so a
        non-EU location is refused with its rule before anything is written."""
        from pipelines.lake.residency import ResidencyError, check_eu_location

        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            path = Path(parsed.path if parsed.scheme == "file" else url).expanduser().resolve()
            if path.exists() and not path.is_dir():
                raise LakeLocationError(f"lake location {url!r} exists and is not a directory")
            return cls(path)
        if parsed.scheme in OBJECT_STORE_SCHEMES:
            try:
                residency = check_eu_location(url, region, endpoint)
            except ResidencyError as exc:
                raise LakeLocationError(f"refused: {exc}") from exc
            if parsed.scheme not in ("s3", "s3a"):
                raise LakeLocationError(
                    f"lake location {url!r} passes the EU residency check, but this build "
                    "supports S3-compatible object stores only (s3://bucket/prefix)"
                )
            if not parsed.netloc:
                raise LakeLocationError(f"lake location {url!r}: no bucket named")
            from pipelines.lake.object_store import s3_path

            return cls(_work_dir(url), s3_path(url, region, endpoint), residency)
        raise LakeLocationError(
            f"lake location {url!r}: scheme {parsed.scheme!r} is not supported by this build "
            "(supported: a local path, file://, s3://)"
        )

    @property
    def remote(self) -> bool:
        return not isinstance(self.data, Path)

    def url_of(self, path: Any) -> str:
        """The URL of a path of this lake, for fsspec, deltalake and dlt."""
        return path.as_uri() if isinstance(path, Path) else str(path)

    @property
    def url(self) -> str:
        return self.url_of(self.data)

    @property
    def landing(self) -> Path:
        """Where source systems drop files (legacy extracts, CRM sandbox data)."""
        return self.data / "landing"

    @property
    def legacy_landing(self) -> Path:
        return self.landing / "legacy"

    @property
    def crm_sandbox_db(self) -> Path:
        """The demo CRM's own database (SQLite needs a local file)."""
        return self.root / "landing" / "crm" / "sandbox.sqlite"

    @property
    def demo_truth(self) -> Path:
        """The demo generator's record of what it put in, for tests and checks only."""
        return self.data / "demo" / "truth.json"

    @property
    def bronze(self) -> Path:
        return self.data / "bronze"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def gold(self) -> Path:
        return self.data / "gold"

    @property
    def state(self) -> Path:
        """Pipeline working state (dlt pipelines dir, dbt target)."""
        return self.root / "state"

    @property
    def ops(self) -> Path:
        """Operational tables: CRM sync state and sync log (Delta)."""
        return self.data / "ops"

    @property
    def published_warehouse(self) -> Path:
        """The warehouse as last published, for readers (finance SQL, the API): a copy
        swapped into place after each build, so a reader never meets a build half-done nor
        the writer's file lock."""
        return self.root / "published.duckdb"

    def readable_warehouse(self) -> Path:
        """The published copy, or the warehouse itself before the first publish."""
        return self.published_warehouse if self.published_warehouse.exists() else self.warehouse

    @property
    def analyst_database(self) -> Path:
        """The analysts' copy of the warehouse, personal columns pseudonymised."""
        return self.root / "analyst.duckdb"

    @property
    def api_keys(self) -> Path:
        """The serving API's keys (hashes only)."""
        return self.ops / "api_keys.json"

    @property
    def suppression_list(self) -> Path:
        """People never to land again (keyed hashes of their e-mail addresses)."""
        return self.ops / "suppression.json"

    @property
    def audit(self) -> Path:
        """The append-only, hash-chained audit log (see pipelines/operations/audit.py)."""
        return self.root / "audit"

    @property
    def audit_mirror(self) -> Path:
        """The audit log's Delta mirror, beside the data it is about."""
        return self.data / "audit" / "audit_log"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def bronze_table(self, source: str, table: str) -> Path:
        return self.bronze / source / table

    def gold_table(self, mart: str) -> Path:
        return self.gold / mart

    # ---------- where each part of the flow keeps its own files

    @property
    def copybooks(self) -> Path:
        """The copybooks delivered with the legacy extracts."""
        return self.legacy_landing / "copybooks"

    @property
    def legacy_cdc(self) -> Path:
        """The journals' bronze: change logs, baselines, the legacy state, quarantine."""
        return self.bronze / "legacy_cdc"

    @property
    def cdc_positions(self) -> Path:
        """Where each journaled file's state stands (the rule of truth)."""
        return self.legacy_cdc / "positions"

    @property
    def receiver_log(self) -> Path:
        """The journals' file log: every receiver, applied or refused."""
        return self.legacy_cdc / "receiver_log"

    def cdc_state(self, journal: str) -> Path:
        """A journal's watermark and gap (replaced atomically)."""
        return self.ops / "cdc" / f"{journal}.json"

    @property
    def cdc_drift(self) -> Path:
        return self.ops / "cdc_drift"

    @property
    def restriction_register(self) -> Path:
        return self.ops / "restrictions"

    @property
    def crm_sync_state(self) -> Path:
        return self.ops / "crm_sync_state"

    @property
    def crm_sync_log(self) -> Path:
        return self.ops / "crm_sync_log"

    @property
    def crm_schema_changes(self) -> Path:
        return self.ops / "crm_schema_changes"

    @property
    def crm_writeback_echoes(self) -> Path:
        """Company id → the CRM's modification time of our last write-back to it: the
        next CRM search returns those companies again; unchanged since, they are our echo."""
        return self.ops / "crm_writeback_echoes.json"

    @property
    def crm_property_catalog(self) -> Path:
        return self.ops / "crm_property_catalog.json"

    @property
    def crm_webhook_inbox(self) -> Path:
        """HubSpot webhook events `serve` took, for `watch` (which objects changed)."""
        return self.root / "inbox" / "crm_webhooks.jsonl"

    @property
    def dlt_pipelines(self) -> Path:
        """dlt's working state (load packages are deleted once loaded)."""
        return self.state / "dlt"

    @property
    def dbt_target(self) -> Path:
        return self.state / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.state / "dbt" / "logs"

    @property
    def published_inputs(self) -> Path:
        """The inputs the warehouse and gold were last built from (for "nothing new")."""
        return self.state / "dbt" / "published_inputs.json"

    def delta_tables(self) -> list[str]:
        """Every Delta table under the data root (paths, or URLs in an object store)."""
        if isinstance(self.data, Path):
            return sorted(str(p.parent) for p in self.data.rglob("_delta_log") if p.is_dir())
        fs, root = self.data.fs, self.data.path
        roots = {k.split("/_delta_log/")[0] for k in fs.find(root) if "/_delta_log/" in k}
        return sorted(fs.unstrip_protocol(r) for r in roots)

    def foreign_entries(self) -> list[str]:
        """What the lake's folder holds that no ledgerbridge lake has (a folder of
        something else, given as --lake by mistake): writing there would mix the two."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.name not in LAKE_ENTRIES and not p.name.startswith(LAKE_FILE_PREFIXES)
        )

    def holds_data(self) -> bool:
        """Whether anything has been delivered or written here (empty folders a refused
        command left behind do not count)."""
        if self.warehouse.exists():
            return True
        for p in (self.landing, self.bronze, self.gold):
            if isinstance(p, Path):
                if p.is_dir() and any(f.is_file() for f in p.rglob("*")):
                    return True
            elif p.exists() and p.fs.find(p.path, maxdepth=None, withdirs=False):
                return True
        return False

    def wipe(self) -> None:
        """Remove the data a run wrote; the run logs stay (they are the record of what ran)."""
        for p in (
            self.landing,
            self.bronze,
            self.gold,
            self.state,
            self.logs,
            self.demo_truth.parent,
            self.crm_sandbox_db.parent,
        ):
            if not p.exists():
                continue
            if isinstance(p, Path):
                shutil.rmtree(p)
            else:
                p.fs.rm(p.path, recursive=True)
        for f in (
            self.warehouse,
            self.warehouse.with_suffix(".duckdb.wal"),
            self.published_warehouse,
            self.analyst_database,
        ):
            f.unlink(missing_ok=True)

    def ensure(self) -> Lake:
        for p in (self.landing, self.bronze, self.gold, self.state, self.logs):
            if isinstance(p, Path):  # an object store has no folders to make
                p.mkdir(parents=True, exist_ok=True)
        return self
