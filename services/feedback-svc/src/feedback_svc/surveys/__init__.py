"""SERVQUAL surveys: instruments (the standard 22 items built in), responses, gap analysis."""
