from datetime import datetime, timedelta

from pledge_common.problems import invalid
from pledge_deadlines import (
    Calendar,
    Pause,
    business_days_limit,
    classify,
    counted_time,
    due_at,
    limit_reached_at,
)
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc.calendars.repository import CalendarRepository
from commitment_svc.calendars.rules import CalendarError
from commitment_svc.calendars.service import public as calendar_public
from commitment_svc.calendars.service import to_library
from commitment_svc.commitments.rules import RuleError, check_limits, format_limit, parse_limit
from commitment_svc.commitments.service import get_version
from commitment_svc.deadlines.schemas import DeadlinePreview, DeadlinePreviewRequest, Judgment, PreviewTerms


async def _calendar(session: AsyncSession, key: str, field: str) -> Calendar:
    row = await CalendarRepository(session).get(key)
    if row is None:
        raise invalid(field, f"unknown calendar `{key}`")
    try:
        return to_library((await calendar_public(session, [row]))[0])
    except CalendarError as err:  # stored calendars were checked on write; this is belt and braces
        raise invalid(field, err.message) from None


async def _terms(session: AsyncSession, body: DeadlinePreviewRequest) -> tuple[PreviewTerms, timedelta, timedelta]:
    if (body.commitment_id is None) == (body.commitment is None):
        raise invalid("commitment", "give either `commitment_id` or `commitment` (limits and calendar)")
    if body.commitment_id is not None:
        row = await get_version(session, body.commitment_id)
        if row.kind != "duration" or row.commitment_limit is None or row.tolerance_limit is None:
            raise invalid("commitment_id", f"a {row.kind} commitment has no run deadlines; preview a duration one")
        terms = PreviewTerms(
            limit_unit=row.limit_unit,  # type: ignore[arg-type]
            commitment_limit=format_limit(row.commitment_limit, row.limit_unit),
            tolerance_limit=format_limit(row.tolerance_limit, row.limit_unit),
            calendar=row.calendar_key,
            allowed_pause_reasons=list(row.allowed_pause_reasons),
            prewarning_fraction=row.prewarning_fraction,
        )
        return terms, row.commitment_limit, row.tolerance_limit
    assert body.commitment is not None
    terms = body.commitment
    try:
        commitment = parse_limit(terms.commitment_limit, terms.limit_unit, "commitment.commitment_limit")
        tolerance = parse_limit(terms.tolerance_limit, terms.limit_unit, "commitment.tolerance_limit")
        check_limits(terms.limit_unit, commitment, tolerance)
    except RuleError as err:
        field = err.field if err.field.startswith("commitment.") else f"commitment.{err.field}"
        raise invalid(field, err.message) from None
    return terms, commitment, tolerance


def _judge(
    calendar: Calendar,
    start: datetime,
    at: datetime,
    pauses: list[Pause],
    limits: tuple[timedelta, timedelta],
    *,
    completed: bool,
) -> Judgment:
    counted = counted_time(calendar, start, at, pauses)
    state = classify(counted, limits[0], limits[1], completed=completed)
    return Judgment(at=at, counted=counted, state=str(state))


async def preview(session: AsyncSession, body: DeadlinePreviewRequest) -> DeadlinePreview:
    """Due instants (and optionally a judgment) of a run under a commitment, without storing anything."""
    terms, commitment, tolerance = await _terms(session, body)
    field = "commitment_id" if body.commitment_id is not None else "commitment.calendar"
    calendar = await _calendar(session, terms.calendar_key, field)
    for i, p in enumerate(body.pauses):
        if p.end is not None and p.end < p.start:
            raise invalid(f"pauses[{i}].end", "must not be before `start`")
    allowed = None if terms.allowed_pause_reasons is None else set(terms.allowed_pause_reasons)
    counted_pauses = [p for p in body.pauses if allowed is None or p.reason in allowed]
    ignored = [p for p in body.pauses if not (allowed is None or p.reason in allowed)]
    pauses = [Pause(p.start, p.end, p.reason) for p in counted_pauses]
    if terms.limit_unit == "business_days":
        commitment = business_days_limit(calendar, body.start, commitment.days)
        tolerance = business_days_limit(calendar, body.start, tolerance.days)
    prewarning = commitment * terms.prewarning_fraction
    limits = (commitment, tolerance)
    for name, instant in (("at", body.at), ("completed_at", body.completed_at)):
        if instant is not None and instant < body.start:
            raise invalid(name, "must not be before `start`")
    return DeadlinePreview(
        start=body.start,
        commitment_id=body.commitment_id,
        calendar_key=terms.calendar_key,
        limit_unit=terms.limit_unit,
        commitment_limit=terms.commitment_limit,
        tolerance_limit=terms.tolerance_limit,
        commitment_counted_limit=commitment,
        tolerance_counted_limit=tolerance,
        prewarning_at=limit_reached_at(calendar, body.start, prewarning, pauses),
        commitment_reached_at=limit_reached_at(calendar, body.start, commitment, pauses),
        commitment_due_at=due_at(calendar, body.start, commitment, pauses),
        tolerance_due_at=due_at(calendar, body.start, tolerance, pauses),
        pauses_counted=counted_pauses,
        pauses_ignored=ignored,
        as_of=None if body.at is None else _judge(calendar, body.start, body.at, pauses, limits, completed=False),
        completed=None
        if body.completed_at is None
        else _judge(calendar, body.start, body.completed_at, pauses, limits, completed=True),
    )
