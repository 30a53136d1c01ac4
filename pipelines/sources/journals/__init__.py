"""Change data capture from IBM i journals (DSPJRN outfile extracts), applied exactly once."""
