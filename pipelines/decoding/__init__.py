"""Vectorised decoding of legacy record bytes into Arrow columns (one module per encoding)."""
