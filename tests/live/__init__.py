"""Live: the bridge kept running (`watch`)."""
