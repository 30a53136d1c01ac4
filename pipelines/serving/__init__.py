"""`ledgerbridge serve`: the read-only API CRM cards and embedded views call."""
