"""Statistics of report figures: proportion intervals and the duration histogram of the rollups. Pure."""

import math
from collections.abc import Mapping


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


def histogram_quantile(histogram: Mapping[int, int], q: float, *, upper: bool = False) -> float | None:
    """The q-quantile (nearest rank) of a histogram; inside the bucket, interpolated geometrically.

    `upper=True` gives the bucket's upper edge: a limit that at least a share q of the runs met.
    """
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            low, high = bucket_bounds(bucket)
            if upper:
                return high
            fraction = (rank - seen) / count
            if bucket == 0:
                return low + (high - low) * fraction
            return float(low * (high / low) ** fraction)
        seen += count
    return bucket_bounds(max(histogram))[1]
