"""Complaint analysis as pure functions: the Pareto of a breakdown and the repeat rate."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from feedback_svc.common import rate

VITAL_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class ParetoItem:
    key: str | None  # None: complaints without a value on the dimension (e.g. no root cause yet)
    count: int
    share: float
    cumulative_share: float
    vital: bool  # among the few whose cumulative share first reaches the threshold


def pareto(counts: Iterable[tuple[str | None, int]], threshold: float = VITAL_SHARE) -> list[ParetoItem]:
    """Counts sorted descending (ties by key, the empty key last) with each one's share and the cumulative
    share; the vital few are the items up to and including the first whose cumulative share reaches
    `threshold`. Zero counts are dropped.

    Worked example: billing 50, outage 30, meter 15, other 5 → cumulative 0.5, 0.8, 0.95, 1.0; the vital
    few at 80 % are billing and outage."""
    kept = sorted(((k, n) for k, n in counts if n > 0), key=lambda kn: (-kn[1], kn[0] is None, kn[0] or ""))
    total = sum(n for _, n in kept)
    items: list[ParetoItem] = []
    running = 0
    reached = False
    for key, n in kept:
        running += n
        cumulative = running / total
        items.append(
            ParetoItem(
                key=key,
                count=n,
                share=round(n / total, 4),
                cumulative_share=round(cumulative, 4),
                vital=not reached,
            )
        )
        # compare the exact fraction: 80/100 reaches 0.8 however floats round
        reached = reached or running >= threshold * total - 1e-9
    return items


def repeat_rate(received: int, repeats: int) -> float | None:
    """Repeats / received, where a repeat is a complaint of the same customer and category filed within the
    repeat window after an earlier one (linked by `repeat_of` when it is filed). Worked example: 40 received,
    6 of them repeats → 0.15."""
    return rate(repeats, received)


TOTAL = "(total)"  # no key can be spelled so: keys start with a letter or digit
NO_VALUE = "(none)"
COUNTED = ("received", "closed", "resolved", "first_contact_resolved", "reopened", "repeats", "judged", "on_time")


@dataclass(frozen=True, slots=True)
class Adjustment:
    group: str  # TOTAL, NO_VALUE or the group's value
    measure: str
    as_closed: int
    current: int
    delta: int


def adjustments(
    as_closed: Mapping[str, Mapping[str, int]], current: Mapping[str, Mapping[str, int]]
) -> list[Adjustment]:
    """What changed since the close: each count of each group (TOTAL for the totals) that differs now, a group
    missing on one side counting as zeros. Sorted by group then measure.

    Worked example: billing received 3 at the close and 4 now (a complaint filed late with an earlier
    received_at) → one adjustment billing/received 3 → 4, delta +1."""
    found: list[Adjustment] = []
    for group in sorted(set(as_closed) | set(current)):
        before, now = as_closed.get(group, {}), current.get(group, {})
        for measure in COUNTED:
            a, b = before.get(measure, 0), now.get(measure, 0)
            if a != b:
                found.append(Adjustment(group, measure, a, b, b - a))
    return found


def starts_period(instant: datetime, bucket: str, tz: str) -> bool:
    """Whether the instant is the first instant of a day, an ISO week (Monday) or a month in the timezone.
    Worked example: 2026-03-01T00:00+08:00 starts a month in Asia/Shanghai; 2026-03-01T00:00Z does not."""
    local = instant.astimezone(ZoneInfo(tz))
    if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
        return False
    if bucket == "week":
        return local.weekday() == 0
    if bucket == "month":
        return local.day == 1
    return True
