"""The lake: one writer (lock, lease), EU residency, the object store."""
