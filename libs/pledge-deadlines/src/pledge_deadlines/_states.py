"""The seven states of a node run, judged by counted time or, equivalently, by deadline instants."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pledge_deadlines._instants import to_micros

Level = Literal["normal", "acceptable", "warning"]


class State(StrEnum):
    COMPLETED_NORMAL = "completed_normal"
    COMPLETED_ACCEPTABLE = "completed_acceptable"
    COMPLETED_WARNING = "completed_warning"
    IN_PROGRESS_NORMAL = "in_progress_normal"
    IN_PROGRESS_ACCEPTABLE = "in_progress_acceptable"
    IN_PROGRESS_WARNING = "in_progress_warning"
    CANCELLED = "cancelled"

    @property
    def is_completed(self) -> bool:
        return self.value.startswith("completed_")

    @property
    def is_in_progress(self) -> bool:
        return self.value.startswith("in_progress_")

    @property
    def level(self) -> Level | None:
        """``"normal"`` (within the commitment), ``"acceptable"`` (within the tolerance), ``"warning"``."""
        return _LEVELS.get(self)


_LEVELS: dict[State, Level] = {
    State.COMPLETED_NORMAL: "normal",
    State.COMPLETED_ACCEPTABLE: "acceptable",
    State.COMPLETED_WARNING: "warning",
    State.IN_PROGRESS_NORMAL: "normal",
    State.IN_PROGRESS_ACCEPTABLE: "acceptable",
    State.IN_PROGRESS_WARNING: "warning",
}
_STATES: dict[tuple[bool, Level], State] = {
    (completed, level): state for state, level in _LEVELS.items() for completed in (state.is_completed,)
}


def _state(level: Level, *, completed: bool, cancelled: bool) -> State:
    if cancelled:
        return State.CANCELLED
    return _STATES[bool(completed), level]


def classify(
    counted: timedelta,
    commitment: timedelta,
    tolerance: timedelta,
    *,
    completed: bool,
    cancelled: bool = False,
) -> State:
    """State of a run from its counted time (at completion, or as of the evaluation instant).

    A boundary value is within the limit: ``counted == commitment`` is normal, ``counted == tolerance``
    acceptable. A cancelled run is cancelled whatever its counted time.
    """
    if commitment < timedelta(0):
        raise ValueError(f"commitment limit must not be negative, got {commitment}")
    if tolerance < commitment:
        raise ValueError(f"tolerance limit ({tolerance}) must not be below the commitment limit ({commitment})")
    if counted < timedelta(0):
        raise ValueError(f"counted time must not be negative, got {counted}")
    if counted <= commitment:
        level: Level = "normal"
    elif counted <= tolerance:
        level = "acceptable"
    else:
        level = "warning"
    return _state(level, completed=completed, cancelled=cancelled)


def classify_by_deadline(
    as_of_or_completed_at: datetime,
    commitment_due_at: datetime | None,
    tolerance_due_at: datetime | None,
    *,
    completed: bool,
    cancelled: bool = False,
) -> State:
    """The same judgment as :func:`classify`, by instants (the values of ``due_at``).

    ``t <= commitment_due_at`` is normal, ``t <= tolerance_due_at`` acceptable, later is warning; a due
    instant of None (the clock stopped for good) is never exceeded. Pass the completion instant of a
    completed run, otherwise the evaluation instant.
    """
    instant = to_micros(as_of_or_completed_at, "as_of_or_completed_at")
    commitment = None if commitment_due_at is None else to_micros(commitment_due_at, "commitment_due_at")
    tolerance = None if tolerance_due_at is None else to_micros(tolerance_due_at, "tolerance_due_at")
    if tolerance is not None and (commitment is None or tolerance < commitment):
        raise ValueError("tolerance_due_at must not be before commitment_due_at")
    if commitment is None or instant <= commitment:
        level: Level = "normal"
    elif tolerance is None or instant <= tolerance:
        level = "acceptable"
    else:
        level = "warning"
    return _state(level, completed=completed, cancelled=cancelled)
