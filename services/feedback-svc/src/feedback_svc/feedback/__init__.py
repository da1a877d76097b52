"""Feedback: CSAT and NPS for a ticket or a process, and its aggregates."""
