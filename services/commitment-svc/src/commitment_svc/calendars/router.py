from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.scopes import Scope, scoped

from commitment_svc.calendars import service
from commitment_svc.calendars.repository import CalendarRepository
from commitment_svc.calendars.schemas import CalendarPublic, CalendarUpsert, HolidayImport, HolidayImportResult
from commitment_svc.core.etags import set_etag
from commitment_svc.core.idempotency import Answer, IdempotencyKey, answer_once
from commitment_svc.core.params import AFTER_FIELD, After, IfMatch, KeyPath, Limit, MergePatch
from commitment_svc.core.schemas import Page, created

router = APIRouter(
    prefix="/v1/calendars", tags=["calendars"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_calendars(session: SessionDep, after: After = None, limit: Limit = 100) -> Page[CalendarPublic]:
    """Business calendars (the built-in `24x7` included), by key."""
    cursor = decode_cursor(after, str, field=AFTER_FIELD)
    rows = await CalendarRepository(session).page(cursor[0] if cursor else None, limit + 1)
    items = await service.public(session, rows[:limit])
    return Page(items=items, next=encode_cursor(items[-1].key) if len(rows) > limit else None)


@router.get("/{key}")
async def get_calendar(key: KeyPath, session: SessionDep, response: Response) -> CalendarPublic:
    """One business calendar."""
    calendar = await service.get_calendar(session, key)
    set_etag(response, calendar.version)
    return calendar


@router.put("/{key}", response_model=CalendarPublic, responses=created(CalendarPublic))
async def put_calendar(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: CalendarUpsert,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a calendar (201), or replace it (needs If-Match with the current ETag)."""

    async def upsert() -> Answer:
        calendar, created = await service.upsert_calendar(session, key, body, if_match)
        return Answer.upserted(calendar, created, calendar.version)

    return await answer_once(request, session, caller, idempotency_key, body, upsert)


@router.post("/{key}/holidays/import")
async def import_holidays(
    key: KeyPath, session: SessionDep, response: Response, body: HolidayImport, if_match: IfMatch = None
) -> HolidayImportResult:
    """Add a country's public holidays of a year (and its make-up working days, e.g. CN 调休)."""
    result = await service.import_holidays(session, key, body, if_match)
    set_etag(response, result.calendar.version)
    return result


@router.patch("/{key}")
async def patch_calendar(
    key: KeyPath, session: SessionDep, response: Response, patch: MergePatch, if_match: IfMatch = None
) -> CalendarPublic:
    """Change some fields (JSON merge patch; needs If-Match): a field sent replaces it whole, null resets it."""
    calendar = await service.patch_calendar(session, key, patch, if_match)
    set_etag(response, calendar.version)
    return calendar


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_calendar(key: KeyPath, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a calendar no commitment uses (409 names the commitments that do)."""
    await service.delete_calendar(session, key, if_match)
