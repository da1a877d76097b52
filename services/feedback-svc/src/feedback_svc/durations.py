"""ISO 8601 durations as they cross service boundaries (`PT4H30M`, `P1DT2H`), to and from seconds."""

import re
from datetime import timedelta
from typing import Any

from pledge_common.durations import rfc3339_duration

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"weeks": 604800.0, "days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def parse_seconds(value: Any) -> float | None:
    """Seconds of an ISO 8601 duration (days as 24 h); numbers pass through; None/unparseable → None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value).strip())
    if not match or value in ("P", "PT"):
        return None
    return sum(float(v) * _UNIT_SECONDS[k] for k, v in match.groupdict().items() if v)


def format_seconds(seconds: float) -> str:
    """`PT…` form of a duration in whole seconds: 5400 → `PT1H30M`, 3605 → `PT1H0M5S` (RFC 3339 leaves no gap
    between the units it names), 90061 → `PT25H1M1S` (counted time: no days), 0 → `PT0S`."""
    return rfc3339_duration(timedelta(seconds=round(seconds)), days=False)
