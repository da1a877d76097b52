"""ISO 8601 durations without calendar units (no years or months: they have no fixed length)."""

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d{1,6})?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """`PT4H`, `PT90M`, `P3D`, `P1DT2H30M`; ValueError for anything else (including `P1M`, `P1Y`)."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration like PT4H, PT30M or P3D (years/months not allowed)")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return timedelta(
        weeks=parts["weeks"],
        days=parts["days"],
        hours=parts["hours"],
        minutes=parts["minutes"],
        seconds=parts["seconds"],
    )


def format_counted(value: timedelta) -> str:
    """Counted time in hours/minutes/seconds: `PT6H`, `PT48H`, `PT1H30M` (never days, which read as business days)."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, micro = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"{sign}PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or micro or out.endswith("T"):
        out += f"{secs}.{micro:06d}".rstrip("0").rstrip(".") + "S"
    return out


def format_days(days: int) -> str:
    return f"P{days}D"
