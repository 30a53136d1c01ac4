"""Compliance: roles, subject access, erasure, pseudonyms, lineage."""
