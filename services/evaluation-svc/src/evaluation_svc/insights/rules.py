"""Recommendation rules: pure functions on typed values, no I/O.

- Verdict (seed 000): with at least `min_sample` judged runs, a share of normal runs ≥ `raise_at` suggests
  raising (tightening) the commitment, ≤ `improve_at` improving the process; otherwise keep. The reason
  quotes the share decided on, with as many decimals as it takes to be on the same side of the threshold
  as the decision (0.897 against 90 % is "89.7 %", never "90 %").
- Suggested limits are exact nearest-rank percentiles of the counted times of the completed runs: the
  smallest value that a share `target_rate` of the runs did not exceed. Durations are rounded up to the
  minute; a business-days commitment is suggested in business days (the fewest business days within which
  the share of runs completed).
- A raise never suggests a looser limit than today's, and the suggested commitment limit is never above
  the suggested tolerance limit.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Verdict = Literal["raise", "improve", "keep", "insufficient_data"]
MAX_BUSINESS_DAYS = 366


@dataclass(frozen=True, slots=True)
class Thresholds:
    raise_at: float
    improve_at: float
    min_sample: int


def quoted(share: float, thresholds: Sequence[float] = ()) -> str:
    """`share` as a percentage, rounded to one decimal unless that would put it on the other side of (or
    on) a threshold it is not on: then with more decimals, up to six."""
    for decimals in range(1, 7):
        text = f"{share * 100:.{decimals}f}"
        shown = float(text) / 100
        if all((shown >= t) == (share >= t) and (shown <= t) == (share <= t) for t in thresholds):
            return f"{text} %"
    return f"{share * 100:.6f} %"


def verdict(normal: int, judged: int, t: Thresholds) -> tuple[Verdict, str]:
    """The recommendation for a commitment whose `normal` of `judged` runs met it, and its reason."""
    if judged < t.min_sample or judged == 0:
        return "insufficient_data", f"{judged} judged runs; at least {t.min_sample} are needed"
    share = normal / judged
    limits = (t.raise_at, t.improve_at)
    met = f"{quoted(share, limits)} of runs met the commitment ({normal} of {judged})"
    if share >= t.raise_at:
        return "raise", f"{met}, at least {quoted(t.raise_at)}: promise more"
    if share <= t.improve_at:
        return "improve", f"only {met}, at most {quoted(t.improve_at)}: improve the process"
    return "keep", f"{met}, between {quoted(t.improve_at)} and {quoted(t.raise_at)}"


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted `values` by nearest rank: the smallest value at least a share q does not
    exceed (exact: always one of the values)."""
    if not values:
        return None
    rank = max(1, math.ceil(q * len(values) - 1e-9))
    return values[min(rank, len(values)) - 1]


def mean(values: Sequence[float]) -> float | None:
    return None if not values else math.fsum(values) / len(values)


def business_days_needed(counted: timedelta, limit_of: Callable[[int], timedelta]) -> int:
    """The fewest business days N (≥ 1) whose limit (counted time from the run's start to the end of the
    N-th working day after its start day) the run's counted time does not exceed."""
    for days in range(1, MAX_BUSINESS_DAYS + 1):
        if counted <= limit_of(days):
            return days
    return MAX_BUSINESS_DAYS


def round_up_to_minute(seconds: float) -> timedelta:
    """A suggested limit people can write down: the next whole minute (an exact minute stays)."""
    return timedelta(minutes=math.ceil(seconds / 60 - 1e-9))


@dataclass(frozen=True, slots=True)
class Suggestion:
    commitment: str | None  # ISO 8601: PT25M, or P3D for 3 business days
    tolerance: str | None
    capped_at_current: bool  # a raise whose percentile was looser than today's limit


def suggest(
    commitment_value: float | None,
    tolerance_value: float | None,
    *,
    current_commitment: float,
    current_tolerance: float,
    decision: Verdict,
    unit: str,
    fmt: Callable[[float], str],
) -> Suggestion:
    """Suggested limits from the percentiles (seconds, or business days), kept at most today's limits on a
    raise and ordered commitment ≤ tolerance. Durations are rounded up to the minute first."""
    if unit != "business_days":
        commitment_value = None if commitment_value is None else round_up_to_minute(commitment_value).total_seconds()
        tolerance_value = None if tolerance_value is None else round_up_to_minute(tolerance_value).total_seconds()
    capped = False
    if decision == "raise":
        if commitment_value is not None and commitment_value > current_commitment:
            commitment_value, capped = current_commitment, True
        if tolerance_value is not None and tolerance_value > current_tolerance:
            tolerance_value, capped = current_tolerance, True
    if commitment_value is not None and tolerance_value is not None and tolerance_value < commitment_value:
        tolerance_value = commitment_value
    return Suggestion(
        commitment=None if commitment_value is None else fmt(commitment_value),
        tolerance=None if tolerance_value is None else fmt(tolerance_value),
        capped_at_current=capped,
    )
