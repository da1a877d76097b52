"""Corrective action rules: the workflow and the effectiveness windows. Pure functions."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

ActionStatus = Literal["open", "in_progress", "done", "verified"]
ActionTarget = Literal["in_progress", "done", "verified"]
ALLOWED: Mapping[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "done"}),
    "in_progress": frozenset({"done"}),
    "done": frozenset({"verified", "in_progress"}),  # verification failed: back to work
    "verified": frozenset(),
}
OPEN_STATUSES = ("open", "in_progress")


def allowed_from(status: str) -> list[str]:
    return sorted(ALLOWED.get(status, frozenset()))


def is_overdue(status: str, due_date: date, today: date) -> bool:
    """Still open after its due date (the due date itself is not overdue)."""
    return status in OPEN_STATUSES and due_date < today


@dataclass(frozen=True, slots=True)
class Windows:
    before_start: datetime
    before_end: datetime
    after_start: datetime
    after_end: datetime
    after_complete: bool


def effectiveness_windows(done_at: datetime, weeks: int, now: datetime) -> Windows:
    """N weeks before completion, and N weeks after it (cut at now while they have not passed)."""
    span = timedelta(weeks=weeks)
    after_end = done_at + span
    return Windows(
        before_start=done_at - span,
        before_end=done_at,
        after_start=done_at,
        after_end=min(after_end, now),
        after_complete=after_end <= now,
    )
