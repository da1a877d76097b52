"""The seven states and the two equivalent ways of judging a run."""

from datetime import UTC, datetime, timedelta

import pytest
from pledge_deadlines import State, classify, classify_by_deadline

HOUR = timedelta(hours=1)
COMMITMENT, TOLERANCE = 6 * HOUR, 10 * HOUR
COMMITMENT_DUE = datetime(2026, 3, 3, 9, tzinfo=UTC)
TOLERANCE_DUE = datetime(2026, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("counted", "completed", "expected"),
    [
        (timedelta(0), True, State.COMPLETED_NORMAL),
        (COMMITMENT, True, State.COMPLETED_NORMAL),
        (COMMITMENT + timedelta(microseconds=1), True, State.COMPLETED_ACCEPTABLE),
        (TOLERANCE, True, State.COMPLETED_ACCEPTABLE),
        (TOLERANCE + timedelta(microseconds=1), True, State.COMPLETED_WARNING),
        (COMMITMENT, False, State.IN_PROGRESS_NORMAL),
        (TOLERANCE, False, State.IN_PROGRESS_ACCEPTABLE),
        (2 * TOLERANCE, False, State.IN_PROGRESS_WARNING),
    ],
)
def test_boundary_values_are_within_the_limit(counted: timedelta, completed: bool, expected: State) -> None:
    assert classify(counted, COMMITMENT, TOLERANCE, completed=completed) == expected


@pytest.mark.parametrize(
    ("instant", "completed", "expected"),
    [
        (COMMITMENT_DUE - HOUR, True, State.COMPLETED_NORMAL),
        (COMMITMENT_DUE, True, State.COMPLETED_NORMAL),
        (COMMITMENT_DUE + timedelta(microseconds=1), True, State.COMPLETED_ACCEPTABLE),
        (TOLERANCE_DUE, False, State.IN_PROGRESS_ACCEPTABLE),
        (TOLERANCE_DUE + timedelta(microseconds=1), False, State.IN_PROGRESS_WARNING),
    ],
)
def test_deadline_instants_are_within_the_limit(instant: datetime, completed: bool, expected: State) -> None:
    assert classify_by_deadline(instant, COMMITMENT_DUE, TOLERANCE_DUE, completed=completed) == expected


def test_a_due_instant_of_none_is_never_exceeded() -> None:
    far = datetime(2100, 1, 1, tzinfo=UTC)

    assert classify_by_deadline(far, None, None, completed=False) == State.IN_PROGRESS_NORMAL
    assert classify_by_deadline(far, COMMITMENT_DUE, None, completed=True) == State.COMPLETED_ACCEPTABLE


def test_cancelled_wins_over_any_counted_time() -> None:
    assert classify(2 * TOLERANCE, COMMITMENT, TOLERANCE, completed=True, cancelled=True) == State.CANCELLED
    assert classify_by_deadline(TOLERANCE_DUE, COMMITMENT_DUE, TOLERANCE_DUE, completed=False, cancelled=True) == (
        State.CANCELLED
    )


def test_state_properties_split_completion_and_level() -> None:
    assert [state.is_completed for state in State] == [True, True, True, False, False, False, False]
    assert [state.is_in_progress for state in State] == [False, False, False, True, True, True, False]
    assert [state.level for state in State] == ["normal", "acceptable", "warning"] * 2 + [None]
    assert str(State.IN_PROGRESS_WARNING) == "in_progress_warning"


def test_tolerance_below_the_commitment_is_rejected() -> None:
    with pytest.raises(ValueError, match="tolerance limit"):
        classify(HOUR, TOLERANCE, COMMITMENT, completed=True)
    with pytest.raises(ValueError, match="tolerance_due_at"):
        classify_by_deadline(COMMITMENT_DUE, TOLERANCE_DUE, COMMITMENT_DUE, completed=True)
    with pytest.raises(ValueError, match="tolerance_due_at"):
        classify_by_deadline(COMMITMENT_DUE, None, TOLERANCE_DUE, completed=True)


def test_negative_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="commitment limit"):
        classify(HOUR, -HOUR, TOLERANCE, completed=True)
    with pytest.raises(ValueError, match="counted time"):
        classify(-HOUR, COMMITMENT, TOLERANCE, completed=True)


def test_naive_instants_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        classify_by_deadline(datetime(2026, 3, 3), COMMITMENT_DUE, TOLERANCE_DUE, completed=True)
