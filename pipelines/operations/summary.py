"""The short, human summary printed at the end of a run (figures read back from the warehouse)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from pipelines.lake.paths import Lake
from pipelines.models.warehouse import connect
from pipelines.sources.extract import ExtractResult


@dataclass
class RunFigures:
    tables: dict[str, int] = field(default_factory=dict)
    files: list[tuple] = field(default_factory=list)
    matching: dict[str, int] = field(default_factory=dict)
    reconciliation: list[tuple] = field(default_factory=list)
    open_eur: str = "0"
    overdue_eur: str = "0"
    quarantined: int = 0


# the order a receiver's entries are accounted in: read = the sum of these
RECEIVER_OUTCOMES = (
    "applied",
    "quarantined",
    "before_baseline",
    "duplicate",
    "rolled_back",
    "pending",
    "control",
    "rejected",
)


_LABELS = {"before_baseline": "in the extract already", "control": "journal control"}


def receiver_line(outcomes: dict[str, int]) -> str:
    """`52 read = 40 applied + 2 quarantined + …` for one journal receiver."""
    order = [o for o in RECEIVER_OUTCOMES if outcomes.get(o)]
    order += sorted(o for o in outcomes if o not in RECEIVER_OUTCOMES and outcomes[o])
    parts = " + ".join(f"{outcomes[o]:,} {_LABELS.get(o, o.replace('_', ' '))}" for o in order)
    return f"{sum(outcomes.values()):,} read = {parts or '0'}"


def collect(lake: Lake) -> RunFigures:
    f = RunFigures()
    con = connect(lake.warehouse, read_only=True)
    try:
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('staging', 'marts') order by 1, 2"
        ).fetchall():
            f.tables[f"{schema}.{table}"] = con.execute(
                f'select count(*) from "{schema}"."{table}"'
            ).fetchone()[0]
        f.files = con.execute(
            "select source_file, status, records_read, records_landed, records_quarantined, "
            "records_with_errors, coalesce(reason, '') from staging.stg_legacy__file_log "
            "order by processed_at, source_file"
        ).fetchall()
        f.quarantined = con.execute(
            "select count(*) from staging.stg_legacy__quarantine"
        ).fetchone()[0]
        f.matching = dict(
            con.execute(
                "select match_status || coalesce(' by ' || match_method, ''), count(*) "
                "from marts.customer_matching group by all order by 1"
            ).fetchall()
        )
        f.reconciliation = con.execute(
            "select reconciliation_status, count(*), sum(difference_amount) "
            "from marts.contract_reconciliation group by all order by 1"
        ).fetchall()
        open_eur, overdue_eur = con.execute(
            "select sum(open_amount_eur), sum(overdue_amount_eur) "
            "from marts.customer_financial_status"
        ).fetchone()
        f.open_eur, f.overdue_eur = f"{open_eur:,.2f}", f"{overdue_eur:,.2f}"
    finally:
        con.close()
    return f


def print_summary(
    lake: Lake,
    extract: ExtractResult | None,
    seconds: float,
    peak_mb: float,
    console: Console | None = None,
) -> RunFigures:
    console = console or Console()
    f = collect(lake)
    console.rule("[bold]ledgerbridge run summary")
    files = Table(title="Legacy files (records read = landed + quarantined)", title_justify="left")
    for col in ("file", "status", "read", "landed", "quarantined", "with errors", "balanced"):
        files.add_column(col, justify="right" if col not in ("file", "status") else "left")
    for name, status, read, landed, quar, errs, reason in f.files:
        ok = "yes" if read == landed + quar else "NO"
        files.add_row(
            name,
            status if not reason else f"{status}: {reason[:60]}",
            f"{read:,}",
            f"{landed:,}",
            f"{quar:,}",
            f"{errs:,}",
            ok,
        )
    console.print(files)
    from pipelines.contracts import undeclared_seen

    for table, columns in undeclared_seen().items():
        console.print(
            f"[yellow]Not landed, no data contract declares them: {table}: "
            f"{', '.join(columns)} (classify them in pipelines/contracts/)[/yellow]"
        )
    if extract is not None:
        for feed, why in sorted(extract.broken_copybooks.items()):
            console.print(
                f"[red]Feed {feed} waits: its copybook does not parse — {why}; its new files "
                "land once it is fixed[/red]"
            )
        console.print(
            f"New legacy files this run: {len(extract.files)}, "
            f"already processed: {extract.skipped_files}; "
            f"CRM rows extracted this run: {sum(extract.crm_rows.values()):,}"
        )
        for j in extract.journals:
            console.print(
                f"Journal {j.journal}: {j.applied:,} changes applied, {j.rolled_back:,} rolled "
                f"back, applied through sequence {j.watermark:,}"
                + (f" — [red]GAP {j.gap[0]:,}-{j.gap[1]:,}, halted[/red]" if j.gap else "")
            )
            for receiver, outcomes in sorted(j.per_receiver.items()):
                console.print(f"  {receiver}: {receiver_line(outcomes)}")
            for receiver, why in sorted(j.rejected.items()):
                console.print(f"  [red]{receiver} not applied: {why}[/red]")
        for c in extract.crm_schema_changes:
            console.print(f"CRM schema change: {c.object_type}.{c.property} {c.change}")
    rows = Table(title="Tables (rows)", title_justify="left")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, n in f.tables.items():
        rows.add_row(name, f"{n:,}")
    console.print(rows)
    console.print(
        "[bold]Customer matching:[/] " + ", ".join(f"{k}: {v:,}" for k, v in f.matching.items())
    )
    console.print(
        "[bold]Contract reconciliation:[/] "
        + ", ".join(
            f"{s}: {n:,} ({d:+,.2f})" if d else f"{s}: {n:,}" for s, n, d in f.reconciliation
        )
    )
    console.print(
        f"[bold]Open AR:[/] EUR {f.open_eur}, of which overdue EUR {f.overdue_eur}; "
        f"quarantined legacy records: {f.quarantined:,}"
    )
    console.print(
        f"[bold]Took[/] {seconds:,.1f} s, peak memory {peak_mb:,.0f} MiB. "
        f"Warehouse: {lake.warehouse}"
    )
    where = lake.url if lake.remote else lake.root
    console.print(
        f"Query it: [cyan].venv/bin/ledgerbridge --lake {where} sql "
        '"select * from marts.customer_financial_status limit 10"[/] '
        "(or open the warehouse read-only with any DuckDB client)"
    )
    return f


def held_input(extract: ExtractResult) -> list[str]:
    """What a run refused or held back, one line each (empty: everything that arrived was
    taken in). Quarantined records are not here: they landed, with their reason."""
    lines = [
        f"legacy file {f.file}: refused — {(f.reason or '').removeprefix(f'{f.file}: ')}"
        for f in extract.files
        if f.status == "rejected"
    ]
    lines += [
        f"feed {feed}: its files wait — copybook {why}"
        for feed, why in extract.broken_copybooks.items()
    ]
    if extract.crm_unreachable:
        lines.append(extract.crm_unreachable)
    for j in extract.journals:
        lines += [f"journal {j.journal}: receiver refused — {why}" for why in j.rejected.values()]
        if j.gap:
            lines.append(
                f"journal {j.journal}: waits at the gap {j.gap[0]:,}–{j.gap[1]:,} "
                f"(applied through {j.watermark:,})"
            )
    return lines


ORPHAN_DOCUMENTS = "relationships_stg_legacy__open_items_customer_number"


def explain_warning(warning: str) -> str:
    """A dbt test warning as a sentence a person can act on (unknown ones as dbt says)."""
    import re

    count = re.search(r"Got (\d+) result", warning)
    n = int(count.group(1)) if count else 0
    if ORPHAN_DOCUMENTS in warning:
        return (
            f"{n:,} AR documents are posted to a customer number the customer master does not "
            "hold (its master record was quarantined or never delivered): they are in the "
            "invoices, open items and ageing, but in no customer's financial status and not "
            "written to the CRM. Correct the master record at the source; list them with: "
            'ledgerbridge sql "select o.document_number, o.customer_number from '
            "staging.stg_legacy__open_items o anti join staging.stg_legacy__customers c "
            'using (customer_number)"'
        )
    return f"dbt test warning: {warning}"
