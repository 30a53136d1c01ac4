"""From bronze to what people read: `build` runs dbt (the full build or the journal
increment `increment` plans), `publish` writes the gold Delta tables, `warehouse` opens the
DuckDB file the models live in."""
