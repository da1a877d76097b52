"""Instants as integer microseconds since 1970-01-01T00:00Z: exact, hashable, cheap to add."""

from datetime import UTC, datetime, timedelta

DAY = 86_400_000_000
ONE_MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal()


def to_micros(value: datetime, name: str) -> int:
    """The instant of an aware datetime; a naive one is rejected because it names no instant."""
    try:
        return (value - EPOCH) // ONE_MICROSECOND  # naive minus aware raises TypeError
    except TypeError:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}") from None


def to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)
