"""dlt source for legacy extract drops: list new files via fsspec, verify, decode, land.

Each file is extracted in its own load so that a file is all-or-nothing and a key that
appears in two day's files is upserted in file order, never duplicated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import dlt
import fsspec
import pyarrow as pa

from pipelines.contracts import enforce
from pipelines.sources.legacy.extract_file import FileFault, FileReport, LegacyFile
from pipelines.sources.legacy.feeds import FEEDS, Feed

FILE_LOG = "file_log"
QUARANTINE = "quarantine"


@dataclass(frozen=True)
class LandingFile:
    feed: Feed
    url: str
    name: str  # path relative to the legacy landing root, e.g. customers/ARCUST_D20261030.dat
    fingerprint: str  # size and modification time: a re-delivered file is a new file
    size: int


def list_landing_files(landing_url: str) -> list[LandingFile]:
    """Every extract file under the legacy landing root, in feed then name order."""
    fs, root = fsspec.core.url_to_fs(landing_url)
    out: list[LandingFile] = []
    for feed in FEEDS:
        pattern = f"{root.rstrip('/')}/{feed.folder}/{feed.file_glob}"
        for path in sorted(fs.glob(pattern)):
            info = fs.info(path)
            mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or ""
            name = path[len(root.rstrip("/")) + 1 :]
            url = fs.unstrip_protocol(path)
            out.append(LandingFile(feed, url, name, f"{info['size']}:{mtime}", info["size"]))
    return out


def _hints(table: str, key: tuple[str, ...]) -> dict:
    return dlt.mark.make_hints(
        table_name=table,
        write_disposition={"disposition": "merge", "strategy": "upsert"},
        primary_key=list(key),
        table_format="delta",
    )


def _log_row(file: LandingFile, report: FileReport) -> pa.Table:
    return pa.table(
        {
            "source_file": [file.name],
            "fingerprint": [file.fingerprint],
            "feed": [file.feed.name],
            "status": [report.status],
            "records_read": [report.records_read],
            "records_landed": [report.records_landed],
            "records_quarantined": [report.records_quarantined],
            "records_with_errors": [report.records_with_errors],
            "extract_date": pa.array([report.extract_date], type=pa.date32()),
            "journal_sequence": pa.array([report.journal_sequence], type=pa.int64()),
            "reason": pa.array([report.reason], type=pa.string()),
            "processed_at": pa.array([datetime.now(UTC)], type=pa.timestamp("us", tz="UTC")),
        }
    )


@dlt.source(name="legacy", max_table_nesting=0)
def legacy_source(  # noqa: ANN201
    file: LandingFile,
    copybook_text: str,
    report: FileReport | None = None,
    progress: Callable[[int], None] | None = None,
    strict: bool = False,
    restrict: Callable[[pa.Table], pa.Table] | None = None,
):
    """One landing file as a dlt source: its feed table, quarantine rows and a file-log row.

    `restrict` rewrites each decoded batch before it lands (restricted customers' personal
    fields pseudonymised, see compliance/restrictions.py)."""
    lf = LegacyFile(file.url, file.name, file.feed, copybook_text, progress, strict)
    if report is not None:
        lf.report = report
        report.file, report.feed = file.name, file.feed.name

    @dlt.resource(name=f"legacy_{file.feed.name}", table_format="delta")
    def legacy_file() -> Iterator[object]:
        try:
            for kind, table in lf.batches():
                if kind == "data":
                    table = enforce("legacy", file.feed.name, table)
                    yield dlt.mark.with_hints(
                        restrict(table) if restrict else table,
                        _hints(file.feed.name, file.feed.primary_key),
                        create_table_variant=True,
                    )
                else:
                    yield dlt.mark.with_hints(
                        enforce("legacy", QUARANTINE, table),
                        _hints(QUARANTINE, ("source_file", "record_number")),
                        create_table_variant=True,
                    )
        except FileFault as fault:
            lf.report.status = "rejected"
            lf.report.reason = str(fault)
            lf.report.records_landed = lf.report.records_quarantined = 0
        yield dlt.mark.with_hints(
            enforce("legacy", FILE_LOG, _log_row(file, lf.report)),
            _hints(FILE_LOG, ("source_file",)),
            create_table_variant=True,
        )

    return legacy_file
