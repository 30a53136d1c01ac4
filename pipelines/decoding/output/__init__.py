"""Where decoded batches go: JSON Lines, Parquet/CSV files (`export.py`), and Delta data
files written by workers and committed once (`delta_sink.py`)."""
