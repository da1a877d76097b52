"""Which alert levels an open run has passed, and which of them are late (pure): the rules the scanner
applies in SQL (NEW_DONE_SQL and LATE_SQL in alerts/repository.py; tests hold each pair to the same answers)."""

from datetime import datetime, timedelta

from evaluation_svc.rules import ALERT_LEVELS


def levels_passed(
    done: int,
    prewarning_due_at: datetime | None,
    commitment_due_at: datetime | None,
    tolerance_due_at: datetime | None,
    now: datetime,
) -> tuple[list[tuple[int, datetime]], int]:
    """Levels above `done` whose due instant has passed at `now` (a run exceeds its limit right after
    the due instant), and the new `done`. A missing due instant stops the climb (the clock is stopped),
    except a missing pre-warning, which a commitment without a pre-warning fraction simply lacks."""
    raised: list[tuple[int, datetime]] = []
    for level, due in zip(
        range(1, len(ALERT_LEVELS) + 1), (prewarning_due_at, commitment_due_at, tolerance_due_at), strict=True
    ):
        if level <= done:
            continue
        if due is None:
            if level == 1:
                continue
            break
        if due >= now:
            break
        raised.append((level, due))
        done = level
    return raised, done


DEFAULT_LATE_AFTER = timedelta(hours=1)


def is_late(reached_at: datetime, detected_at: datetime, late_after: timedelta) -> bool:
    """A level reached more than `late_after` before it was detected is late: it is news of the past (old work
    orders loaded now, a scanner down for hours), recorded but delivered to nobody. Exactly `late_after` is not."""
    return detected_at - reached_at > late_after
