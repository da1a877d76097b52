"""deadlines."""
