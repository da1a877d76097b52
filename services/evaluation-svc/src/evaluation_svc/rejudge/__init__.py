"""Re-judging runs under a back-dated commitment version: what it would change, the audited act, its record."""
