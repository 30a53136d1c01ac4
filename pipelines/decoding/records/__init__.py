"""Records: framing (where each record starts, every record format), decoding a chunk of
records into an Arrow table (`decode.py`, asking `selector.py` which decoder each field
takes), variable-size OCCURS, and nesting flat rows into groups and arrays."""
