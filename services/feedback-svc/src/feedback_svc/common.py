"""Small pieces every domain of feedback-svc shares: strict inputs, aware instants, periods (pages, cursors
and `limit` come from `pledge_common.pagination`)."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pledge_common.identity import Caller
from pledge_common.instants import Instant
from pledge_common.problems import invalid
from pydantic import BaseModel, ConfigDict, Field

Bucket = Literal["day", "week", "month"]


def utcnow() -> datetime:
    return datetime.now(UTC)


AwareDatetime = Instant  # an offset required; kept and answered in UTC with `Z`
Key = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(min_length=1, max_length=10_000)]


class Input(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def visible_to(caller: Caller, source: str | None) -> bool:
    """A caller bound to source systems sees what concerns their tickets only; a row without a source (no
    ticket, or written before sources were kept) only callers bound to none see."""
    return caller.sources is None or (source is not None and source in caller.sources)


def source_clause(column: str, sources: frozenset[str] | None, params: dict[str, Any]) -> str | None:
    """The SQL condition `visible_to` states, for the rows of a list or an aggregate (None: no condition)."""
    if sources is None:
        return None
    params["caller_sources"] = sorted(sources)
    return f"{column} = ANY(CAST(:caller_sources AS text[]))"


def written_by(caller: Caller) -> list[str] | None:
    """The sources a row without a ticket (a corrective action, a survey response) is bound to: those of the
    caller who wrote it; None (only callers bound to none see it) when that caller is bound to none."""
    return sorted(caller.sources) if caller.sources is not None else None


def owned_by(caller: Caller, sources: list[str] | None) -> bool:
    """A row written by a caller bound to sources is seen by callers bound to all of them (a partner sees what
    it wrote); a row written unbound (or before rows were bound) only callers bound to none see."""
    return caller.sources is None or (bool(sources) and set(sources or ()) <= caller.sources)


def owner_clause(column: str, sources: frozenset[str] | None, params: dict[str, Any]) -> str | None:
    """The SQL condition `owned_by` states (None: no condition)."""
    if sources is None:
        return None
    params["caller_sources"] = sorted(sources)
    return f"(cardinality({column}) > 0 AND {column} <@ CAST(:caller_sources AS text[]))"


def timezone_named(name: str, field: str = "query.tz") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, f"unknown time zone {name!r}") from None
    return name


def check_period(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise invalid("query.to", "must be after `from`")


def rate(numerator: int, denominator: int) -> float | None:
    """A share rounded to 4 decimals; None when nothing was counted."""
    return round(numerator / denominator, 4) if denominator else None


D = TypeVar("D", bound=str)


def one_dimension(group_by: list[D] | None, default: D) -> D:
    """The dimension of a report that groups by one: `group_by` is a repeatable parameter everywhere (the
    API guide), and these reports take it at most once."""
    if not group_by:
        return default
    if len(group_by) > 1:
        raise invalid("query.group_by", "this report groups by one dimension; give group_by once")
    return group_by[0]
