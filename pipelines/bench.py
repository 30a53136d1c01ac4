"""`make bench`: decoder throughput against a tuned pure-Python baseline, in one run.

Prints MB/s and records/s of the vectorised engine (file → Arrow, one process) and of a
per-record Python decoder written the fast way (struct slices, bytes.hex for packed, one
codec call per field), and their ratio. `--pipeline N` also times `ledgerbridge run` on a
fresh N-customer demo lake (wall time and peak memory).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

from pipelines.demo import legacy_files as lf
from pipelines.demo import pools
from pipelines.demo.world import to_days
from pipelines.sources.legacy.extract_file import LegacyFile
from pipelines.sources.legacy.feeds import feed_by_name

AS_OF = date(2026, 10, 30)


def write_open_items(path: Path, records: int, seed: int = 1) -> None:
    """A cp273 open-item extract of `records` detail records (the demo's 120-byte layout)."""
    rng = np.random.default_rng(seed)
    writer = lf.ExtractWriter(feed_by_name("open_items"), path, AS_OF)
    block = 100_000
    for start in range(0, records, block):
        n = min(block, records - start)
        doc = to_days(AS_OF) - rng.integers(0, 500, n)
        amount = rng.integers(-50_000, 5_000_000, n)
        items = {
            "doc_no": [f"RE{start + i:08d}" for i in range(n)],
            "cust_no": rng.integers(10_000_001, 11_000_000, n),
            "doc_type": np.where(amount < 0, "GS", "RE"),
            "doc_date": doc,
            "due": doc + 30,
            "amount": amount,
            "open": np.where(rng.random(n) < 0.4, amount, 0),
            "currency": np.array(["EUR", "CHF", "USD"])[rng.integers(0, 3, n)],
            "contract": np.full(n, "", dtype=object),
            "dunning": rng.integers(0, 4, n),
            "text": np.array(pools.ITEM_TEXTS)[rng.integers(0, len(pools.ITEM_TEXTS), n)],
        }
        writer.write(
            lf.item_records(writer, items),
            {"oi_amount": items["amount"], "oi_open_amount": items["open"]},
        )
    writer.close()


def engine_to_polars(path: Path) -> int:
    """The engine alone: file → polars DataFrames, one pass."""
    import polars as pl

    from pipelines.copybook import parse_copybook
    from pipelines.decoding.decode_file import decode_file
    from pipelines.decoding.framing import Framing
    from pipelines.decoding.records import DecodeOptions

    feed = feed_by_name("open_items")
    layout = parse_copybook((lf.COPYBOOK_DIR / feed.copybook).read_text())[feed.detail_record]
    opts = DecodeOptions(codepage=feed.codepage, dates=feed.dates)
    return sum(
        pl.from_arrow(b.table).height for b in decode_file(str(path), layout, opts, Framing())
    )


def engine_workers(pool: object, path: Path) -> int:
    """The engine on worker processes: (file, byte range) splits decoded in parallel."""
    import polars as pl

    from pipelines.copybook import parse_copybook
    from pipelines.decoding.framing import Framing
    from pipelines.decoding.records import DecodeOptions

    feed = feed_by_name("open_items")
    layout = parse_copybook((lf.COPYBOOK_DIR / feed.copybook).read_text())[feed.detail_record]
    opts = DecodeOptions(codepage=feed.codepage, dates=feed.dates)
    batches = pool.decode(str(path), layout, opts, Framing(), views=True)
    return sum(pl.from_arrow(b.table).height for b in batches)


def engine_to_delta(path: Path, target: Path) -> int:
    """The engine into a Delta table: decoded batches streamed to deltalake."""
    import shutil

    import pyarrow as pa
    from deltalake import write_deltalake

    from pipelines.copybook import parse_copybook
    from pipelines.decoding.decode_file import decode_file
    from pipelines.decoding.framing import Framing
    from pipelines.decoding.records import DecodeOptions

    feed = feed_by_name("open_items")
    layout = parse_copybook((lf.COPYBOOK_DIR / feed.copybook).read_text())[feed.detail_record]
    opts = DecodeOptions(codepage=feed.codepage, dates=feed.dates)
    batches = (b.table for b in decode_file(str(path), layout, opts, Framing()))
    first = next(batches)
    shutil.rmtree(target, ignore_errors=True)

    def all_batches() -> Iterator[pa.RecordBatch]:
        for table in (first, *batches):
            yield from table.to_batches()

    write_deltalake(str(target), pa.RecordBatchReader.from_batches(first.schema, all_batches()))
    return 0


def engine_decode(path: Path) -> int:
    """The landing path: trailer verification pass + decode with quarantine rules."""
    feed = feed_by_name("open_items")
    text = (lf.COPYBOOK_DIR / feed.copybook).read_text()
    f = LegacyFile(str(path), path.name, feed, text)
    rows = sum(t.num_rows for kind, t in f.batches() if kind == "data")
    return rows


def _packed(raw: bytes, scale: int) -> Decimal:
    h = raw.hex()
    value = int(h[:-1])
    return Decimal(-value if h[-1] in "bd" else value).scaleb(-scale)


def baseline_decode(path: Path, limit: int) -> int:
    """The tuned per-record baseline: every field of every detail record, exact types."""
    data = path.read_bytes()
    size = 120
    out = 0
    for off in range(size, min(len(data) - size, (limit + 1) * size), size):
        r = data[off : off + size]
        row = (
            r[1:11].decode("cp273").rstrip(),
            int(r[11:19].decode("cp273")),
            r[19:21].decode("cp273"),
            int(r[21:29].decode("cp273")),
            int(r[29:33].hex()[:-1]),
            _packed(r[33:40], 2),
            _packed(r[40:47], 2),
            r[47:50].decode("cp273"),
            r[50:62].decode("cp273").rstrip(),
            int(r[62:63].decode("cp273")),
            r[63:103].decode("cp273").rstrip(),
        )
        out += row is not None
    return out


def _median_rate(fn, nbytes: int, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return nbytes / med / 1e6, med


def bench_decoder(records: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "AROPEN_BENCH.dat"
        write_open_items(path, records)
        size = path.stat().st_size
        polars_mbs, polars_s = _median_rate(lambda: engine_to_polars(path), size, repeats)
        delta_mbs, _ = _median_rate(
            lambda: engine_to_delta(path, Path(tmp) / "delta"), size, repeats
        )
        from pipelines.decoding.parallel import DecoderPool

        workers = {}
        for n in (1, 2):
            with DecoderPool(n) as pool:
                engine_workers(pool, path)  # start the workers before timing
                workers[n] = _median_rate(lambda p=pool: engine_workers(p, path), size, repeats)[0]
        engine_mbs, engine_s = _median_rate(lambda: engine_decode(path), size, repeats)
        sample = min(records, 200_000)
        base_mbs, base_s = _median_rate(
            lambda: baseline_decode(path, sample), sample * 120, repeats
        )
    print(
        f"decoder benchmark: {records:,} records x 120 B cp273 ({size / 1e6:,.0f} MB), "
        f"median of {repeats}"
    )
    print(
        f"  engine, file -> polars DataFrame (1 process):        {polars_mbs:8.1f} MB/s "
        f"{records / polars_s:12,.0f} rec/s"
    )
    print(f"  engine, file -> Delta table (1 process):             {delta_mbs:8.1f} MB/s")
    print(
        f"  engine, verified landing decode (trailer + decode):  {engine_mbs:8.1f} MB/s "
        f"{records / engine_s:12,.0f} rec/s"
    )
    print(
        f"  baseline (tuned per-record Python, exact):           {base_mbs:8.1f} MB/s "
        f"{sample / base_s:12,.0f} rec/s"
    )
    print(
        f"  engine, worker processes, file -> DataFrame: 1 worker {workers[1]:.1f} MB/s, "
        f"2 workers {workers[2]:.1f} MB/s (scaling {workers[2] / workers[1]:.2f}x)"
    )
    print(
        f"  ratio engine/baseline: {polars_mbs / base_mbs:.1f}x (DataFrame), "
        f"{engine_mbs / base_mbs:.1f}x (verified landing)"
    )
    print(
        f"  peak memory (this process): "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )


def bench_pipeline(customers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        cmd = [sys.executable, "-m", "pipelines.cli", "--lake", str(lake)]
        t = time.perf_counter()
        subprocess.run(
            [*cmd, "demo", "--customers", str(customers)], check=True, capture_output=True
        )
        gen = time.perf_counter() - t
        t = time.perf_counter()
        proc = subprocess.run([*cmd, "run"], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(proc.stdout)
    print(
        f"pipeline benchmark: {customers:,} customers — demo generation {gen:,.1f} s; "
        f"`ledgerbridge run` {wall:,.1f} s wall; peak memory of any child {peak:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--pipeline",
        type=int,
        default=0,
        metavar="CUSTOMERS",
        help="also time the whole flow on a demo of this many customers",
    )
    args = parser.parse_args()
    bench_decoder(args.records, args.repeats)
    if args.pipeline:
        bench_pipeline(args.pipeline)


if __name__ == "__main__":
    main()
