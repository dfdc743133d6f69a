"""Credits and tiers: the append-only ledger and the limits each tier grants."""
