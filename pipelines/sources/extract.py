"""`ledgerbridge extract legacy|crm|all`: run the dlt pipelines into the bronze Delta tables."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from datetime import datetime

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import structlog
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.lake.lease import fence
from pipelines.lake.paths import Lake
from pipelines.operations.progress import bytes_bar
from pipelines.sources.legacy import FILE_LOG, LandingFile, legacy_source, list_landing_files
from pipelines.sources.legacy.extract_file import FileReport, StrictModeError

log = structlog.get_logger(__name__)


@dataclass
class ExtractResult:
    files: list[FileReport] = field(default_factory=list)
    skipped_files: int = 0
    crm_rows: dict[str, int] = field(default_factory=dict)
    crm_schema_changes: list = field(default_factory=list)
    journals: list = field(default_factory=list)  # ApplyReport per journal
    states: list = field(default_factory=list)  # StateReport per journaled file
    broken_copybooks: dict[str, str] = field(default_factory=dict)  # feed → what is wrong
    crm_unreachable: str | None = None  # why the CRM was not extracted this run


def _pipeline(lake: Lake, source: str) -> dlt.Pipeline:
    # dlt keeps its working state in the lake, so two lakes never share state; a loaded
    # package's data files are deleted once loaded (else every row ever landed, personal
    # data included, would stay in the working folder: minimisation, and erasure)
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
    return dlt.pipeline(
        pipeline_name=f"ledgerbridge_{source}",
        destination=dlt.destinations.filesystem(bucket_url=lake.url_of(lake.bronze)),
        dataset_name=source,
        pipelines_dir=str(lake.dlt_pipelines),
        progress="log" if os.environ.get("LEDGERBRIDGE_PROGRESS") == "log" else None,
    )


def processed_files(lake: Lake) -> set[tuple[str, str]]:
    """(file, fingerprint) pairs the file log says were loaded or rejected already."""
    try:
        table = DeltaTable(str(lake.bronze_table("legacy", FILE_LOG))).to_pyarrow_table(
            columns=["source_file", "fingerprint"]
        )
    except TableNotFoundError:
        return set()
    return set(zip(table["source_file"].to_pylist(), table["fingerprint"].to_pylist(), strict=True))


class ExtractFailed(RuntimeError):
    """An extract stopped (e.g. --strict); nothing of the failing file was loaded."""


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """Our error inside dlt's wrappers (PipelineStepFailed → extraction error → …)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "exception", None)
    return None


def extract_legacy(lake: Lake, strict: bool = False, pseudonym_key: bytes = b"") -> ExtractResult:
    """Land new legacy files; customers on the restriction register land pseudonymised
    (with `pseudonym_key`, the key their earlier records were restricted with)."""
    from pipelines.compliance.restrictions import restrict_batch, restricted_customers

    result = ExtractResult()
    restricted = restricted_customers(lake)
    if restricted and not pseudonym_key:
        raise ExtractFailed(
            "customers are on the restriction register: the pseudonym key is needed"
        )
    done = processed_files(lake)
    files: list[LandingFile] = list_landing_files(lake.url_of(lake.legacy_landing))
    pipeline = _pipeline(lake, "legacy")
    copybooks = lake.copybooks
    result.broken_copybooks = check_copybooks(lake)
    new = [f for f in files if (f.name, f.fingerprint) not in done]
    # a feed whose copybook does not parse waits (its files are not marked processed, so
    # they land once the copybook is fixed); the other feeds land
    waiting = [f for f in new if f.feed.name in result.broken_copybooks]
    new = [f for f in new if f.feed.name not in result.broken_copybooks]
    result.skipped_files = len(files) - len(new) - len(waiting)
    with bytes_bar() as bar:
        task = bar.add_task("decoding legacy files", total=sum(f.size for f in new))
        for f in new:
            report = FileReport(file=f.name, feed=f.feed.name)
            text = (copybooks / f.feed.copybook).read_text(encoding="utf-8")
            bar.update(task, description=f"decoding {f.name}")
            restrict = (
                (lambda t: restrict_batch(t, restricted, pseudonym_key))
                if restricted and f.feed.name == "customers"
                else None
            )
            source = legacy_source(
                f, text, report, lambda n: bar.advance(task, n), strict, restrict
            )
            try:
                fence()
                pipeline.run(source)
            except PipelineStepFailed as exc:
                strict_error = _find_cause(exc, StrictModeError)
                if strict_error is None:
                    raise
                if pipeline.has_pending_data:
                    pipeline.abort_packages()
                raise ExtractFailed(str(strict_error)) from exc
            log.info(
                "legacy_file",
                file=f.name,
                status=report.status,
                read=report.records_read,
                landed=report.records_landed,
                quarantined=report.records_quarantined,
                reason=report.reason,
            )
            result.files.append(report)
    if restricted:
        # files delivered after a restriction hold the customers' clear values again: they
        # landed pseudonymised above; now the landing copies are overwritten too (here, not
        # in a caller, so no way of extracting skips this GDPR step)
        from pipelines.compliance.landing_rewrite import rewrite_customer_records

        for path in rewrite_customer_records(lake, restricted, pseudonym_key):
            log.info("landing_file_restricted", file=path)
    return result


def check_copybooks(lake: Lake) -> dict[str, str]:
    """Parse every feed's copybook at the start of a run (not only when a file arrives):
    feed → `file: line L, column C: what` for those that do not parse or lack a record."""
    from pipelines.copybook import CopybookError, parse_copybook
    from pipelines.sources.legacy.feeds import FEEDS

    broken: dict[str, str] = {}
    folder = lake.copybooks
    for feed in FEEDS:
        path = folder / feed.copybook
        if not path.exists():
            continue  # no copybook, no file of that feed is expected yet
        try:
            records = parse_copybook(path.read_text(encoding="utf-8"))
        except (CopybookError, UnicodeDecodeError) as exc:
            broken[feed.name] = f"{feed.copybook}: {exc}"
        else:
            needed = (feed.header_record, feed.detail_record, feed.trailer_record)
            missing = [r for r in needed if r not in records]
            if missing:
                broken[feed.name] = f"{feed.copybook}: no record {', '.join(missing)}"
        if feed.name in broken:
            log.error("copybook_broken", feed=feed.name, detail=broken[feed.name])
    return broken


def _crm_landed_live(lake: Lake, object_type: str, until: datetime) -> pa.Array | None:
    """Ids of the CRM objects landed live and created by `until` (the source's archive
    check); None when the table is not there yet."""
    try:
        table = DeltaTable(str(lake.bronze_table("crm", object_type))).to_pyarrow_table(
            columns=["id", "archived", "created_at"]
        )
    except TableNotFoundError:
        return None
    live = pc.and_(pc.invert(table["archived"]), pc.less_equal(table["created_at"], until))
    return table["id"].filter(live).combine_chunks()


def extract_crm(
    lake: Lake,
    base_url: str,
    token: str,
    properties: dict[str, list[str]] | None = None,
    allow_schema_change: bool = False,
    run_id: str = "",
    suppression_key: bytes = b"",
) -> ExtractResult:
    """Land CRM changes; report the CRM's property additions and removals first."""
    from dlt.common.schema.exceptions import DataValidationError

    from pipelines.crm.hubspot import HubSpotConnector
    from pipelines.sources.crm import properties_to_land
    from pipelines.sources.crm.schema_changes import detect_schema_changes

    result = ExtractResult()
    landed = properties_to_land(properties)
    connector = HubSpotConnector(base_url, token)
    result.crm_schema_changes = detect_schema_changes(lake, connector, landed, run_id)
    for change in result.crm_schema_changes:
        log.warning("crm_schema_change", **vars(change))
    pipeline = _pipeline(lake, "crm")
    from pipelines.compliance.suppression import suppressed

    blocked = frozenset(suppressed(lake))
    source = connector.extract_source(
        landed,
        allow_schema_change,
        blocked,
        suppression_key if blocked else b"",
        landed_live=functools.partial(_crm_landed_live, lake),
        echoes=_echoes(lake),
    )
    try:
        fence()
        info = pipeline.run(source)
    except PipelineStepFailed as exc:
        cause = _find_cause(exc, DataValidationError)
        if cause is None:
            raise
        raise ExtractFailed(
            f"CRM table {cause.table_name}: {cause.schema_entity} {cause.column_name or ''} "
            "would change the landed schema, which is frozen. If the configuration change "
            "is deliberate, run `ledgerbridge extract crm --allow-schema-change` once."
        ) from exc
    info.raise_on_failed_jobs()
    _prune_echoes(lake, pipeline)
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    result.crm_rows = {k: v for k, v in counts.items() if not k.startswith("_dlt")}
    log.info("crm_extract", rows=result.crm_rows)
    return result


def _echoes(lake: Lake) -> dict[str, str]:
    """The write-back's echoes (writeback/sync.py): companies we wrote, at the CRM's time."""
    import json

    path = lake.crm_writeback_echoes
    return json.loads(path.read_text()) if path.exists() else {}


def _prune_echoes(lake: Lake, pipeline: dlt.Pipeline) -> None:
    """Echoes older than the companies' search cursor cannot come back: forget them."""
    import json

    from pipelines.lake.storage import write_text_atomically

    path = lake.crm_writeback_echoes
    if not path.exists():
        return
    resources = pipeline.state.get("sources", {}).get("crm", {}).get("resources", {})
    cursor = resources.get("companies", {}).get("cursor")
    if not cursor:
        return
    echoes = json.loads(path.read_text())
    kept = {i: t for i, t in echoes.items() if t >= cursor}
    if len(kept) != len(echoes):
        write_text_atomically(path, json.dumps(kept))


def apply_journals(lake: Lake, run_id: str, pseudonym_key: bytes = b"") -> list:
    """Apply every journal that has receivers in the landing zone (after the legacy extract:
    the first apply takes the latest full extract at its journal position as its baseline)."""
    from pipelines.sources.journals.apply import apply_journal, extract_positions, load_state
    from pipelines.sources.journals.feeds import JOURNALS
    from pipelines.sources.journals.read import receivers

    reports = []
    for journal in JOURNALS:
        if not receivers(lake, journal):
            continue
        if not extract_positions(lake, journal, load_state(lake, journal.name)):
            log.warning(
                "journal_waits_for_extract",
                journal=journal.name,
                detail=f"no full extract of {journal.image_feed} has landed yet",
            )
            continue
        report = apply_journal(lake, journal, run_id, pseudonym_key)
        if report.gap:
            log.error(
                "journal_gap",
                journal=journal.name,
                missing_from=report.gap[0],
                missing_to=report.gap[1],
                applied_through=report.watermark,
            )
        for receiver, why in report.rejected.items():
            log.error("journal_receiver_rejected", journal=journal.name, file=receiver, reason=why)
        if report.before_baseline:  # expected, not a problem: the summary accounts them
            log.info(
                "journal_entries_before_baseline",
                journal=journal.name,
                entries=report.before_baseline,
                detail="at or before the baseline extract's position: in it already, not applied",
            )
        log.info(
            "journal_applied",
            **{k: v for k, v in vars(report).items() if k not in ("files", "rejected")},
        )
        reports.append(report)
    return reports


def refresh_states(lake: Lake, run_id: str) -> list:
    """The legacy state of every journaled file: latest extract + journal after it (state.py).
    Writes only what changed; a newer extract is checked for drift and then adopted."""
    from pipelines.sources.journals.feeds import JOURNALS
    from pipelines.sources.journals.state import refresh_state, write_positions

    reports = []
    for journal in JOURNALS:
        report = refresh_state(lake, journal, run_id)
        if report.drift is not None and report.drift.differences:
            log.warning(
                "cdc_drift",
                journal=journal.name,
                extract_date=report.drift.extract_date,
                sequence=report.drift.sequence,
                differences=len(report.drift.differences),
            )
        if report.rebaselined_to or report.written:
            log.info(
                "legacy_state",
                journal=journal.name,
                rebaselined_to=report.rebaselined_to,
                merged=report.merged,
                rows=report.rows,
            )
        reports.append(report)
    write_positions(lake)
    return reports
