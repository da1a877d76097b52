"""Services (configuration items): what availability, count, frequency and clause commitments are about."""
