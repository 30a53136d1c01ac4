"""Models: the whole flow end to end, and the journal increment equal to a full rebuild."""
