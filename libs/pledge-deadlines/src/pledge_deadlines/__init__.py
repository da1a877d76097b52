"""Counted working time, deadline instants and the seven states of a node run.

A pure library: no I/O. Every datetime passed in must be timezone-aware; every datetime returned is UTC.
See README.md for the units, the "last instant" rule and how changes of UTC offset are counted.
"""

from pledge_deadlines._calendar import Calendar, Window
from pledge_deadlines._counting import (
    Pause,
    business_days_due_at,
    business_days_limit,
    counted_time,
    due_at,
    limit_reached_at,
)
from pledge_deadlines._states import State, classify, classify_by_deadline

__all__ = [
    "Calendar",
    "Pause",
    "State",
    "Window",
    "business_days_due_at",
    "business_days_limit",
    "classify",
    "classify_by_deadline",
    "counted_time",
    "due_at",
    "limit_reached_at",
]
