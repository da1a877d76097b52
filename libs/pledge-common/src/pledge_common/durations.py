"""Durations, read and written once for every service: ISO 8601 in, RFC 3339 (its Appendix A) out.

Inputs are lenient: any ISO 8601 duration of weeks, days, hours, minutes and seconds, in either case, with
units skipped (`PT2H50S`, `pt90m`, `P1DT2H`, `PT1.5S`). Years and months are refused: they have no fixed
length. Answers follow the grammar JSON Schema's `format: duration` points at (RFC 3339, Appendix A), which
leaves no gap between the units it names and has no fractions: two hours and fifty seconds is `PT2H0M50S`
(the usual ISO 8601 writers, pydantic's among them, give `PT2H50S`, which a validating client refuses).

Elapsed and counted time is written in hours past a day (`PT26H`): counted working time has no 24-hour day.
Days are written only for a value that is in days (a business-days limit, `P3D`). A computed figure with a
fraction of a second is written rounded up to the whole second; its `*_seconds` twin carries the exact value.
"""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

_ISO_8601 = re.compile(
    r"P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d{1,6})?)S)?)?",
    re.IGNORECASE,
)
EXAMPLES = "PT4H, PT2H0M50S, PT90M or P3D"
# what the writer writes, in RFC 3339 Appendix A terms: "P" (dur-day [dur-time] / dur-time), no weeks, months,
# years or fractions (a test holds it against a regex written rule by rule from the ABNF)
_TIME = r"T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S)"
ANSWER_PATTERN = rf"^P(?:\d+D(?:{_TIME})?|{_TIME})$"


def parse_duration(text: str) -> timedelta:
    """`PT4H`, `PT2H50S`, `PT90M`, `P3D`, `P1DT2H30M`, `PT1.5S`; ValueError for anything else (`P1M`, `P1Y`,
    `-PT1H`, `PT`, `4 hours`)."""
    match = _ISO_8601.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration like {EXAMPLES} (no years or months)")
    parts = {name: value for name, value in match.groupdict().items() if value}
    seconds = parts.pop("seconds", "0").replace(",", ".")
    whole, _, fraction = seconds.partition(".")
    return timedelta(
        **{name: int(value) for name, value in parts.items()},
        seconds=int(whole),
        microseconds=int(fraction.ljust(6, "0")) if fraction else 0,
    )


def rfc3339_duration(value: timedelta, *, days: bool = False) -> str:
    """`PT4H`, `PT2H0M50S`, `PT26H`, `PT0S`; with `days=True` (a value in days) `P3D`, `P1DT2H`.

    A fraction of a second is rounded up to the whole second (the grammar has no fractions); a negative
    duration is a ValueError (the grammar has no sign)."""
    if value < timedelta(0):
        raise ValueError(f"a duration cannot be negative: {value}")
    seconds = -(-(value // timedelta(microseconds=1)) // 1_000_000)  # rounded up
    whole_days, seconds = divmod(seconds, 86_400) if days else (0, seconds)
    hours, seconds = divmod(seconds, 3_600)
    minutes, seconds = divmod(seconds, 60)
    units = [(hours, "H"), (minutes, "M"), (seconds, "S")]
    named = [i for i, (n, _) in enumerate(units) if n]
    time = ""
    if named:  # from the first unit that is not zero to the last, the zeros between included
        time = "T" + "".join(f"{n}{unit}" for n, unit in units[named[0] : named[-1] + 1])
    if whole_days:
        return f"P{whole_days}D{time}"
    return f"P{time}" if time else "PT0S"


def format_days(days: int) -> str:
    """A whole number of days (a business-days limit): `P3D`."""
    if days < 0:
        raise ValueError(f"a duration cannot be negative: {days} days")
    return f"P{days}D" if days else "PT0S"


def format_seconds(seconds: float) -> str:
    """Counted seconds in the answer form: 5400 → `PT1H30M`, 3605 → `PT1H0M5S`, 90061 → `PT25H1M1S`."""
    return rfc3339_duration(timedelta(seconds=seconds))


def _read(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


_SCHEMA = WithJsonSchema({"type": "string", "format": "duration", "examples": ["PT4H", "PT2H0M50S"]})

Duration = Annotated[
    timedelta,
    BeforeValidator(_read),
    PlainSerializer(rfc3339_duration, return_type=str, when_used="json"),
    _SCHEMA,
]
"""A duration field: read from any ISO 8601 duration (text) or a number of seconds, answered as `PT26H0M5S`."""

DurationInDays = Annotated[
    timedelta,
    BeforeValidator(_read),
    PlainSerializer(lambda value: rfc3339_duration(value, days=True), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["P3D"]}),
]
"""A duration counted in days (business days): answered with days, `P3D`."""


def normal_limit(text: str) -> str:
    """A limit as text in the answer form, its unit kept: days when days were written (`P3D`, business days),
    hours otherwise (`PT2H50S` → `PT2H0M50S`, `PT90M` → `PT1H30M`)."""
    written_days = "D" in text.strip().upper().partition("T")[0]
    return rfc3339_duration(parse_duration(text), days=written_days)


LimitText = Annotated[
    str,
    AfterValidator(normal_limit),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["PT4H", "P3D"]}),
]
"""A commitment or tolerance limit in its commitment's unit (`limit_unit`): text, checked and written in the
answer form (`PT4H`, `PT2H0M50S`, or whole business days `P3D`)."""
