"""Legacy record bytes → Arrow, by role: `fields/` (one codec per COBOL field type, and the
compiled kernels), `records/` (framing, a chunk of records decoded, the one place that picks
each field's decoder), `execution/` (splits, worker pool, whole files), `output/` (JSON
Lines, Parquet/CSV, Delta data files), and `options.py` (options as people write them).
Nothing here knows the lake, dbt or HTTP."""
