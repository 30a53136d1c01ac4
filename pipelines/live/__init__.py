"""The bridge kept live: `watch` takes changes in as they arrive, on either side."""
