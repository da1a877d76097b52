"""Seven-state status tables and achievement reports, as of an instant or over a period."""
