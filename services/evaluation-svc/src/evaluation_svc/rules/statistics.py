"""Statistics of report figures: proportion intervals and the duration histogram of the rollups. Pure."""

import math
from collections.abc import Mapping
from dataclasses import dataclass


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion (None without trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# Counted durations are kept as a log-scale histogram (rollups cost by groups, not rows): bucket 0 holds
# durations under one second; bucket b >= 1 holds [BASE**(b-1), BASE**b) seconds.
HISTOGRAM_BASE = 1.02
_LOG_BASE = math.log(HISTOGRAM_BASE)


def duration_bucket(seconds: float) -> int:
    if seconds < 1:
        return 0
    return 1 + math.floor(math.log(seconds) / _LOG_BASE + 1e-12)


def bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket <= 0:
        return 0.0, 1.0
    return HISTOGRAM_BASE ** (bucket - 1), HISTOGRAM_BASE**bucket


@dataclass(frozen=True, slots=True)
class BucketCell:
    """One bucket of a histogram that also keeps the sum of its runs' counted seconds."""

    n: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Percentile:
    """A percentile: the mean of the runs in the bucket holding its rank, and that bucket's bounds [low, high).

    The nearest-rank value is one of those runs, so it lies within the bounds, as does the estimate: at most
    HISTOGRAM_BASE (2 %) apart. Runs of equal duration give exactly their value."""

    value: float
    low: float
    high: float


def bucket_percentile(histogram: Mapping[int, BucketCell], q: float) -> Percentile | None:
    """The q-quantile (nearest rank) of a histogram with sums: the mean of its bucket, with the bucket's bounds."""
    total = sum(c.n for c in histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(histogram):
        cell = histogram[bucket]
        if cell.n > 0 and seen + cell.n >= rank:
            low, high = bucket_bounds(bucket)
            return Percentile(value=min(max(cell.seconds / cell.n, low), high), low=low, high=high)
        seen += max(cell.n, 0)
    return None


def histogram_mean(histogram: Mapping[int, BucketCell]) -> float | None:
    """The exact mean counted seconds of the runs of a histogram with sums (None without runs)."""
    total = sum(c.n for c in histogram.values())
    if total <= 0:
        return None
    return sum(c.seconds for c in histogram.values()) / total
