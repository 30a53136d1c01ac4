"""The decoder on its own: `layout` (a copybook's record layouts) and `decode` (a file)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from pipelines.cli.base import JobError, command
from pipelines.operations.progress import console


@command()
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
        raise JobError(f"{copybook}: {exc}") from exc
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


@command()
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
    """Decode a legacy data file with its copybook (JSON Lines by default).

    A copybook with several 01 records (a header, details, a trailer) describes several
    record types: choose one with --record, or select by a segment field."""
    from pipelines.copybook import CopybookError, parse_copybook
    from pipelines.decoding import options
    from pipelines.decoding.execution.decode_file import StrictModeError
    from pipelines.decoding.execution.memory import reuse_freed_memory
    from pipelines.decoding.fields.codepages import CodePageError, codec_name
    from pipelines.decoding.output.export import decode_to, file_size
    from pipelines.decoding.records.decode import DecodeOptions
    from pipelines.decoding.records.framing import Framing, FramingError
    from pipelines.operations.progress import bytes_bar

    reuse_freed_memory()
    try:
        codec_name(encoding)
    except CodePageError as exc:
        raise click.BadParameter(str(exc), param_hint="--encoding") from exc
    try:
        records = parse_copybook(
            copybook_path.read_text(encoding="utf-8", errors="replace"),
            free_format=free_format,
            fillers=fillers,
            filler_naming=filler_naming,
        )
    except CopybookError as exc:
        raise JobError(f"{copybook_path}: {exc}") from exc
    name = (record_name or next(iter(records))).upper()
    if name not in records:
        raise JobError(f"{copybook_path} has no record {name}; it has {', '.join(records)}")
    layout = records[name]
    try:
        opts = DecodeOptions(
            codepage=encoding,
            trim=trim,
            float_format=floating_point,
            dialect=dialect,
            debug=debug_cols,
            segment_field=segment_field,
            segment_map=options.segment_map(segment_map),
            display_numbers=display_numbers,
            low_values_text_null=low_values_null,
            field_codepages=options.field_encodings(field_encoding, layout),
        )
        options.worker_count(workers, 0)
    except options.DecoderOptionError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from exc
    children = options.segment_children(segment_children)
    if children and (not segment_field or not opts.segment_map):
        raise click.UsageError("--segment-children needs --segment-field and --segment-map")
    framing = Framing(
        record_format=record_format,
        record_length=record_length,
        rdw_big_endian=not rdw_little_endian,
        rdw_includes_header=not rdw_excludes_header,
        rdw_adjustment=rdw_adjustment,
        file_start_offset=file_start_offset,
        file_end_offset=file_end_offset,
    )
    try:
        with bytes_bar() as bar:
            task = bar.add_task(f"decoding {Path(data).name}", total=file_size(data))
            counts = decode_to(
                data,
                layout,
                opts,
                framing,
                output=output,
                stdout=click.get_text_stream("stdout"),
                strict=strict,
                workers=workers,
                variable_size_occurs=variable_size_occurs,
                children=children,
                progress=lambda at: bar.update(task, completed=at),
            )
    except (FramingError, StrictModeError, FileNotFoundError) as exc:
        raise JobError(str(exc)) from exc
    console.print(
        f"{data}: {counts.records:,} records decoded, {counts.with_errors:,} with values that "
        "did not decode (null, listed in _errors)"
    )


COMMANDS = [layout, decode]
