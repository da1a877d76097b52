from collections.abc import Sequence
from datetime import date
from typing import Any

import holidays as holiday_data
from pledge_common.etags import check_if_match
from pledge_common.outbox import emit
from pledge_common.problems import Conflict, NotFound, PreconditionFailed, invalid
from pledge_deadlines import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc import feed
from commitment_svc.calendars.models import CalendarRow
from commitment_svc.calendars.repository import CalendarRepository
from commitment_svc.calendars.rules import CalendarError, build_calendar, normalise_weekly
from commitment_svc.calendars.schemas import CalendarPublic, CalendarUpsert, HolidayImport, HolidayImportResult
from commitment_svc.core.merge_patch import merge_patch
from commitment_svc.core.models import now_utc


async def public(session: AsyncSession, rows: Sequence[CalendarRow]) -> list[CalendarPublic]:
    days = await CalendarRepository(session).days_of([r.key for r in rows])
    return [_public(row, days[row.key]) for row in rows]


def _public(row: CalendarRow, days: dict[date, str]) -> CalendarPublic:
    return CalendarPublic(
        key=row.key,
        name=row.name,
        timezone=row.timezone,
        weekly=row.weekly,
        holidays=sorted(d for d, kind in days.items() if kind == "holiday"),
        extra_working_days=sorted(d for d, kind in days.items() if kind == "working"),
        extra_day_windows=row.extra_day_windows,
        builtin=row.builtin,
        version=row.row_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_library(calendar: CalendarPublic) -> Calendar:
    """The deadline library's calendar of a stored definition."""
    return build_calendar(
        calendar.timezone,
        calendar.weekly,
        calendar.holidays,
        calendar.extra_working_days,
        calendar.extra_day_windows,
    )


async def get_calendar(session: AsyncSession, key: str) -> CalendarPublic:
    row = await CalendarRepository(session).get(key)
    if row is None:
        raise NotFound(f"no calendar `{key}`")
    return (await public(session, [row]))[0]


Weekly = dict[str, list[list[str]]]
Windows = list[list[str]]


def _checked(body: CalendarUpsert) -> tuple[Weekly, Windows | None]:
    try:
        build_calendar(body.timezone, body.weekly, body.holidays, body.extra_working_days, body.extra_day_windows)
        weekly = normalise_weekly(body.weekly)
    except CalendarError as err:
        raise invalid(err.field, err.message) from None
    extra = None
    if body.extra_day_windows is not None:
        extra = normalise_weekly({"0": body.extra_day_windows})["0"]
    return weekly, extra


async def upsert_calendar(
    session: AsyncSession, key: str, body: CalendarUpsert, if_match: str | None
) -> tuple[CalendarPublic, bool]:
    """Create a calendar, or replace it (If-Match required); returns (calendar, created)."""
    checked = _checked(body)
    repo = CalendarRepository(session)
    row = await repo.get(key, for_update=True)
    if row is None:
        if if_match is not None and if_match.strip() != "*":
            raise PreconditionFailed(
                f"calendar `{key}` does not exist",
                errors=[{"field": "header.If-Match", "message": "the calendar does not exist"}],
            )
        weekly, extra = checked
        now = now_utc()
        row = CalendarRow(
            key=key,
            name=body.name,
            timezone=body.timezone,
            weekly=weekly,
            extra_day_windows=extra,
            created_at=now,
            updated_at=now,
        )
        await repo.add(row)
        return await _store_days(session, row, body), True
    check_if_match(if_match, row.row_version, required=True)
    return await _replace(session, row, (await public(session, [row]))[0], body, checked), False


async def patch_calendar(
    session: AsyncSession, key: str, patch: dict[str, Any], if_match: str | None
) -> CalendarPublic:
    """Change some fields of a calendar (If-Match required): the merged calendar is checked as a PUT body."""
    row = await CalendarRepository(session).get(key, for_update=True)
    if row is None:
        raise NotFound(f"no calendar `{key}`")
    check_if_match(if_match, row.row_version, required=True)
    current = (await public(session, [row]))[0]
    body = merge_patch(CalendarUpsert, current.model_dump(mode="json", include=set(CalendarUpsert.model_fields)), patch)
    return await _replace(session, row, current, body, _checked(body))


async def _replace(
    session: AsyncSession,
    row: CalendarRow,
    current: CalendarPublic,
    body: CalendarUpsert,
    checked: tuple[Weekly, Windows | None],
) -> CalendarPublic:
    """Replace a stored calendar (`current` is its public form; If-Match already checked). PUT and PATCH."""
    if row.builtin:
        raise Conflict(f"calendar `{row.key}` is built in and cannot be changed")
    weekly, extra = checked
    if (
        current.name,
        current.timezone,
        current.weekly,
        current.holidays,
        current.extra_working_days,
        current.extra_day_windows,
    ) == (body.name, body.timezone, weekly, sorted(set(body.holidays)), sorted(set(body.extra_working_days)), extra):
        return current
    row.name, row.timezone, row.weekly, row.extra_day_windows = body.name, body.timezone, weekly, extra
    row.row_version += 1
    row.updated_at = now_utc()
    await CalendarRepository(session).add(row)
    return await _store_days(session, row, body)


async def _store_days(session: AsyncSession, row: CalendarRow, body: CalendarUpsert) -> CalendarPublic:
    """Write the body's dates of a saved calendar and put the result on the feed."""
    await CalendarRepository(session).replace_days(
        row.key, sorted(set(body.holidays)), sorted(set(body.extra_working_days))
    )
    out = (await public(session, [row]))[0]
    await emit(session, "calendar.upserted", row.key, out.feed_payload())
    return out


def public_holidays(body: HolidayImport) -> tuple[dict[date, str], set[date]]:
    """The country's public holidays of the year, and its official make-up working days (if it has any)."""
    country = body.country.upper()
    try:
        found = holiday_data.country_holidays(country, subdiv=body.subdivision, years=body.year)
    except NotImplementedError:
        raise invalid("country", f"no public holiday data for country `{body.country}`") from None
    except ValueError as err:  # unknown subdivision, or a year the data does not cover
        raise invalid("subdivision" if body.subdivision else "year", str(err)) from None
    days = {d: str(name) for d, name in found.items() if d.year == body.year}
    working = {d for d in getattr(found, "weekend_workdays", set()) if d.year == body.year}
    return days, (working - set(days)) if body.make_up_days else set()


async def import_holidays(
    session: AsyncSession, key: str, body: HolidayImport, if_match: str | None
) -> HolidayImportResult:
    """Add a country's public holidays (and make-up days) of a year; importing twice changes nothing."""
    repo = CalendarRepository(session)
    row = await repo.get(key, for_update=True)
    if row is None:
        raise NotFound(f"no calendar `{key}`")
    check_if_match(if_match, row.row_version, required=False)
    if row.builtin:
        raise Conflict(f"calendar `{key}` is built in and cannot be changed")
    holidays_found, working_found = public_holidays(body)
    current = (await repo.days_of([key]))[key]
    new_holidays = sorted(d for d in holidays_found if current.get(d) != "holiday")
    new_working = sorted(d for d in working_found if current.get(d) != "working")
    if new_holidays or new_working:
        merged_holidays = {d for d, k in current.items() if k == "holiday"} | set(holidays_found)
        merged_working = ({d for d, k in current.items() if k == "working"} - set(holidays_found)) | working_found
        try:
            build_calendar(row.timezone, row.weekly, merged_holidays, merged_working, row.extra_day_windows)
        except CalendarError as err:
            raise invalid(err.field, err.message) from None
        await repo.merge_days(
            key,
            [(d, "holiday", holidays_found[d]) for d in new_holidays]
            + [(d, "working", f"make-up working day ({body.country.upper()})") for d in new_working],
        )
        row.row_version += 1
        row.updated_at = now_utc()
        await repo.add(row)
    out = (await public(session, [row]))[0]
    if new_holidays or new_working:
        await emit(session, "calendar.upserted", key, out.feed_payload())
    return HolidayImportResult(calendar=out, holidays_added=new_holidays, extra_working_days_added=new_working)


async def delete_calendar(session: AsyncSession, key: str, if_match: str | None) -> None:
    repo = CalendarRepository(session)
    row = await repo.get(key, for_update=True)
    if row is None:
        raise NotFound(f"no calendar `{key}`")
    check_if_match(if_match, row.row_version, required=False)
    if row.builtin:
        raise Conflict(f"calendar `{key}` is built in and cannot be deleted")
    refs = await repo.references(key)
    if refs:
        raise Conflict(f"calendar `{key}` is still referenced by {', '.join(refs)}", referenced_by=refs)
    await repo.delete(row)
    await emit(session, "calendar.deleted", key, feed.payload("calendar.deleted", {"key": key}))
