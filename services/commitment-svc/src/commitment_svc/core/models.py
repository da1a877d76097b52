"""Helpers for table models."""

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)
