from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import etag_of, not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, paged
from pledge_common.scopes import Scope, scoped

from commitment_svc.calendars import service
from commitment_svc.calendars.repository import CalendarRepository
from commitment_svc.calendars.schemas import CalendarPublic, CalendarUpsert, HolidayImport, HolidayImportResult
from commitment_svc.core.params import IfMatch, KeyPath, MergePatch
from commitment_svc.core.schemas import created, upserted

router = APIRouter(
    prefix="/v1/calendars", tags=["calendars"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_calendars(
    session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[CalendarPublic]:
    """Business calendars (the built-in `24x7` included), by key."""
    cursor = decode_cursor(page.cursor, str)
    rows = await CalendarRepository(session).page(cursor[0] if cursor else None, page.limit + 1)
    items = await service.public(session, rows[: page.limit])
    return paged(
        request,
        response,
        Page(items=items, next_cursor=encode_cursor(items[-1].key) if len(rows) > page.limit else None),
    )


@router.get("/{key}", response_model=CalendarPublic)
async def get_calendar(
    key: KeyPath, session: SessionDep, request: Request, response: Response
) -> CalendarPublic | Response:
    """One business calendar."""
    calendar = await service.get_calendar(session, key)
    if (unchanged := not_modified(request, calendar.version)) is not None:
        return unchanged
    set_etag(response, calendar.version)
    return calendar


@router.put("/{key}", response_model=CalendarPublic, responses=created(CalendarPublic))
async def put_calendar(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: CalendarUpsert,
    idem: IdempotencyDep,
    if_match: IfMatch = None,
) -> Response:
    """Create a calendar (201), or replace it (needs If-Match with the current ETag)."""

    async def upsert() -> Answer:
        calendar, created = await service.upsert_calendar(session, key, body, if_match)
        return upserted(calendar, created, calendar.version)

    return await idem.answer(upsert, body)


@router.post("/{key}/holidays/import", response_model=HolidayImportResult)
async def import_holidays(
    key: KeyPath, session: SessionDep, body: HolidayImport, idem: IdempotencyDep, if_match: IfMatch = None
) -> Response:
    """Add a country's public holidays of a year (and its make-up working days, e.g. CN 调休)."""

    async def import_() -> Answer:
        result = await service.import_holidays(session, key, body, if_match)
        return Answer(status.HTTP_200_OK, result, {"ETag": etag_of(result.calendar.version)})

    return await idem.answer(import_, body)


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
