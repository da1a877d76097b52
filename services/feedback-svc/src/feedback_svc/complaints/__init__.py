"""Complaints (投诉): first-receiver ownership, a tracked workflow, repeat detection, metrics."""
