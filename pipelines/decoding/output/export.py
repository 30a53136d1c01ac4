"""A whole file decoded into one output — JSON Lines (flat or nested by segment), Parquet
or CSV — batch by batch, so memory stays bounded whatever the file's size. The engine that
`ledgerbridge decode` runs; the options come parsed (decoding/options.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO

import fsspec

from pipelines.copybook.model import RecordLayout
from pipelines.decoding.options import worker_count
from pipelines.decoding.records.decode import DecodeOptions
from pipelines.decoding.records.framing import Framing


@dataclass
class ExportCounts:
    records: int = 0
    with_errors: int = 0  # records holding a value that did not decode (null, in _errors)


def file_size(data: str) -> int:
    fs, path = fsspec.core.url_to_fs(data)
    return fs.size(path)


def decode_to(
    data: str,
    layout: RecordLayout,
    opts: DecodeOptions,
    framing: Framing,
    *,
    output: str | None,
    stdout: IO[str],
    strict: bool = False,
    workers: str = "auto",
    variable_size_occurs: bool = False,
    children: dict[str, list[str]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportCounts:
    """Decode `data` into `output` (.jsonl, .parquet, .csv; None: JSON Lines on `stdout`).
    `children` nests child segments under their parent record (JSON only). `progress` is
    told the byte offset reached after each batch."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from pipelines.decoding.execution.decode_file import decode_file
    from pipelines.decoding.execution.parallel import DecoderPool
    from pipelines.decoding.output.json_lines import render_json_lines
    from pipelines.decoding.records.nested import assemble_hierarchy, nest, to_json

    counts = ExportCounts()
    kind = "jsonl" if not output or output.endswith(".jsonl") else output.rsplit(".", 1)[-1]
    with ExitStack() as stack:
        out = (
            stack.enter_context(open(output, "w", encoding="utf-8"))
            if output and kind == "jsonl"
            else stdout
        )
        n_workers = worker_count(workers, file_size(data))
        if n_workers > 1 and not variable_size_occurs:
            pool = stack.enter_context(DecoderPool(n_workers))
            batches = pool.decode(data, layout, opts, framing, strict)
        else:
            batches = decode_file(data, layout, opts, framing, strict, variable_size_occurs)
        writer = None

        def json_records() -> Iterator[tuple[dict, str]]:
            nonlocal writer
            for batch in batches:
                if progress is not None:
                    progress(batch.end_offset)
                counts.records += batch.table.num_rows
                counts.with_errors += len(batch.errors)
                if kind in ("parquet", "csv"):
                    if writer is None:
                        make = pq.ParquetWriter if kind == "parquet" else pacsv.CSVWriter
                        writer = stack.enter_context(make(output, batch.table.schema))
                    writer.write_table(batch.table)
                    continue
                if not children:
                    out.write(render_json_lines(batch.table, layout, batch.errors))
                    continue
                segment = layout.field(opts.segment_field).column if opts.segment_field else None
                for i, row in enumerate(batch.table.to_pylist()):
                    record = nest(row, layout)
                    if i in batch.errors:
                        record["_errors"] = batch.errors[i]
                    seg = row[segment] if segment else ""
                    yield record, opts.segment_map.get(str(seg).strip(), "")

        if children:
            for root in assemble_hierarchy(json_records(), children):
                out.write(to_json(root) + "\n")
        else:
            for _ in json_records():  # every batch is written as it is decoded
                pass
    return counts
