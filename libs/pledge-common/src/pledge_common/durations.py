"""Durations in answers: ISO 8601 as JSON Schema's `duration` format reads it (RFC 3339, Appendix A).

That grammar leaves no gap between the units it names: two hours and fifty seconds is `PT2H0M50S`, where
the usual ISO 8601 writers (pydantic's among them) give `PT2H50S`, which a client validating against the
published schema refuses. Answers declare such fields as `Duration`.
"""

from datetime import timedelta
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def rfc3339_duration(value: timedelta, *, days: bool = True) -> str:
    """`P3D`, `P1DT2H`, `PT2H0M50S`, `PT1M0.5S`, `PT0S` (a negative duration with a leading minus).

    `days=False` counts in hours past a day (`PT26H`): for counted working time, whose day is not 24 hours."""
    if value < timedelta(0):
        return "-" + rfc3339_duration(-value, days=days)
    seconds, micro = divmod(value // timedelta(microseconds=1), 1_000_000)
    whole_days, seconds = divmod(seconds, 86_400) if days else (0, seconds)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    units = [(hours, "H"), (minutes, "M"), (seconds + micro / 1e6, "S")]
    named = [i for i, (n, _) in enumerate(units) if n]
    time = ""
    if named:  # from the first unit that is not zero to the last, the zeros between included
        parts = units[named[0] : named[-1] + 1]
        time = "T" + "".join(f"{_number(n)}{unit}" for n, unit in parts)
    if whole_days:
        return f"P{whole_days}D{time}"
    return f"P{time}" if time else "PT0S"


def _number(n: float) -> str:
    return str(int(n)) if n == int(n) else f"{n:.6f}".rstrip("0")


Duration = Annotated[
    timedelta,
    PlainSerializer(rfc3339_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "duration"}, mode="serialization"),
]
