"""The lake's layout: every path a run writes is derived from one root, so two lakes never mix."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


class LakeLocationError(ValueError):
    """The lake URL cannot be used (unsupported scheme, not a directory, …)."""


@dataclass(frozen=True)
class Lake:
    """Paths of one lake. Local paths only for now; object stores come with the S3 work."""

    root: Path

    @classmethod
    def from_url(cls, url: str, region: str | None = None, endpoint: str | None = None) -> Lake:
        """A lake at `url`. Object-store locations are checked for EU residency first, so a
        non-EU location is refused with its rule before anything is written."""
        from pipelines.residency import ResidencyError, check_eu_location

        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            path = Path(parsed.path if parsed.scheme == "file" else url).expanduser().resolve()
            if path.exists() and not path.is_dir():
                raise LakeLocationError(f"lake location {url!r} exists and is not a directory")
            return cls(path)
        if parsed.scheme in ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"):
            try:
                residency = check_eu_location(url, region, endpoint)
            except ResidencyError as exc:
                raise LakeLocationError(f"refused: {exc}") from exc
            raise LakeLocationError(
                f"lake location {url!r} passes the EU residency check ({residency.provider} "
                f"{residency.region}), but object-store lakes are not supported by this build "
                "yet: use a local path"
            )
        raise LakeLocationError(
            f"lake location {url!r}: scheme {parsed.scheme!r} is not supported by this build "
            "(supported: a local path or file://)"
        )

    @property
    def url(self) -> str:
        return self.root.as_uri()

    @property
    def landing(self) -> Path:
        """Where source systems drop files (legacy extracts, CRM sandbox data)."""
        return self.root / "landing"

    @property
    def legacy_landing(self) -> Path:
        return self.landing / "legacy"

    @property
    def crm_sandbox_db(self) -> Path:
        return self.landing / "crm" / "sandbox.sqlite"

    @property
    def demo_truth(self) -> Path:
        """The demo generator's record of what it put in, for tests and checks only."""
        return self.root / "demo" / "truth.json"

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def gold(self) -> Path:
        return self.root / "gold"

    @property
    def state(self) -> Path:
        """Pipeline working state (dlt pipelines dir, dbt target)."""
        return self.root / "state"

    @property
    def ops(self) -> Path:
        """Operational tables: CRM sync state and sync log (Delta)."""
        return self.root / "ops"

    @property
    def audit(self) -> Path:
        """The append-only, hash-chained audit log (see pipelines/audit.py)."""
        return self.root / "audit"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def bronze_table(self, source: str, table: str) -> Path:
        return self.bronze / source / table

    def holds_data(self) -> bool:
        return any(p.exists() for p in (self.landing, self.bronze, self.warehouse, self.gold))

    def wipe(self) -> None:
        """Remove the data a run wrote; the run logs stay (they are the record of what ran)."""
        for p in (
            self.landing,
            self.bronze,
            self.gold,
            self.state,
            self.logs,
            self.demo_truth.parent,
        ):
            if p.exists():
                shutil.rmtree(p)
        for f in (self.warehouse, self.warehouse.with_suffix(".duckdb.wal")):
            f.unlink(missing_ok=True)

    def ensure(self) -> Lake:
        for p in (self.landing, self.bronze, self.gold, self.state, self.logs):
            p.mkdir(parents=True, exist_ok=True)
        return self
