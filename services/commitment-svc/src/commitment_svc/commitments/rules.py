"""Pure rules of commitments: limits, the status machine, and what activating a version changes."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pledge_common.durations import format_days, parse_duration, rfc3339_duration

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"negotiating"}),
    "negotiating": frozenset({"draft", "active"}),
    "active": frozenset({"retired"}),
    "retired": frozenset(),
}
IN_FORCE = ("active", "retired")  # statuses whose [effective_from, effective_to) governs
# a version cannot be retired before now (runs were judged under it); this much clock skew between client
# and server is forgiven
PAST_GRACE = timedelta(minutes=5)


class RuleError(ValueError):
    def __init__(self, field: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.conflict = conflict


def parse_limit(text: str, unit: str, field: str) -> timedelta:
    """A limit in its unit; RuleError naming the field when malformed, not positive, or not whole days."""
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise RuleError(field, str(err)) from None
    if value <= timedelta(0):
        raise RuleError(field, "must be greater than zero")
    if value % timedelta(seconds=1):
        raise RuleError(field, "must be whole seconds")
    if unit == "business_days" and value % timedelta(days=1):
        raise RuleError(field, 'business days are whole days: "P1D", "P3D"')
    return value


def check_limits(unit: str, commitment: timedelta, tolerance: timedelta) -> None:
    if tolerance < commitment:
        raise RuleError(
            "tolerance_limit",
            f"the tolerance limit ({format_limit(tolerance, unit)}) must be at least the commitment limit"
            f" ({format_limit(commitment, unit)})",
        )


def format_limit(value: timedelta, unit: str) -> str:
    return format_days(value.days) if unit == "business_days" else rfc3339_duration(value)


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        raise RuleError("to", f"a {current} version cannot become {target} (allowed: {allowed})", conflict=True)


@dataclass(frozen=True, slots=True)
class InForce:
    """A version of the same commitment that governs (or governed) a range."""

    id: str
    version: int
    status: str
    effective_from: datetime
    effective_to: datetime | None


def plan_activation(effective_from: datetime, same_commitment: Sequence[InForce]) -> InForce | None:
    """The version whose range closes at `effective_from` (None if none), or RuleError.

    The new version governs [effective_from, open). An earlier version still open (or ending later) is
    closed at effective_from; a version that starts at or after effective_from would be erased, which
    is refused. A start in the past is not refused here: whether it changes judged runs is evaluation's
    to say (see `starts_in_the_past`).
    """
    predecessor: InForce | None = None
    for other in same_commitment:
        if other.effective_from >= effective_from:
            raise RuleError(
                "effective_from",
                f"version {other.version} already governs from {other.effective_from.isoformat()};"
                " a new version must start after it",
                conflict=True,
            )
        if other.effective_to is None or other.effective_to > effective_from:
            if other.status != "active":
                raise RuleError(
                    "effective_from",
                    f"version {other.version} was retired at {other.effective_to}; start after that",
                    conflict=True,
                )
            predecessor = other
    return predecessor


def starts_in_the_past(effective_from: datetime, now: datetime) -> bool:
    """A version starting before now may take runs already judged from the version that governed them."""
    return effective_from < now


def check_retirement(effective_from: datetime, effective_to: datetime | None, at: datetime, now: datetime) -> None:
    if at < now - PAST_GRACE:
        raise RuleError("effective_to", "a version cannot be retired in the past (runs were judged under it)")
    if at <= effective_from:
        raise RuleError("effective_to", f"must be after the version's start {effective_from.isoformat()}")
    if effective_to is not None and effective_to <= at:
        raise RuleError(
            "effective_to", f"this version already stopped governing at {effective_to.isoformat()}", conflict=True
        )
