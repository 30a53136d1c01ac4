"""Running it and knowing what ran: structured `logs`, the hash-chained `audit` log,
`progress` bars, and the run `summary` a person reads."""
