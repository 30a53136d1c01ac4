"""Running the decoder over files: splits on record boundaries, streaming reads, the
long-lived worker pool with its shared-memory output slots, and whole-file decoding."""
