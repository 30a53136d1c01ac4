"""The embedded default: the demo at every size."""
