from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, paged
from pledge_common.scopes import Scope, scoped

from commitment_svc.core.params import IfMatch, KeyPath
from commitment_svc.core.schemas import created, upserted
from commitment_svc.segments import service
from commitment_svc.segments.repository import SegmentRepository
from commitment_svc.segments.schemas import SegmentPublic, SegmentUpsert

router = APIRouter(
    prefix="/v1/segments", tags=["segments"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_segments(
    session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[SegmentPublic]:
    """Customer segments, by key."""
    cursor = decode_cursor(page.cursor, str)
    rows = await SegmentRepository(session).page(cursor[0] if cursor else None, page.limit + 1)
    items = [SegmentPublic.model_validate(r) for r in rows[: page.limit]]
    return paged(
        request,
        response,
        Page(items=items, next_cursor=encode_cursor(items[-1].key) if len(rows) > page.limit else None),
    )


@router.get("/{key}", response_model=SegmentPublic)
async def get_segment(
    key: KeyPath, session: SessionDep, request: Request, response: Response
) -> SegmentPublic | Response:
    """One customer segment."""
    segment = await service.get_segment(session, key)
    if (unchanged := not_modified(request, segment.row_version)) is not None:
        return unchanged
    set_etag(response, segment.row_version)
    return SegmentPublic.model_validate(segment)


@router.put("/{key}", response_model=SegmentPublic, responses=created(SegmentPublic))
async def put_segment(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: SegmentUpsert,
    idem: IdempotencyDep,
    if_match: IfMatch = None,
) -> Response:
    """Create a segment or rename it (201 when created)."""

    async def upsert() -> Answer:
        segment, created = await service.upsert_segment(session, key, body, if_match)
        return upserted(SegmentPublic.model_validate(segment), created, segment.row_version)

    return await idem.answer(upsert, body)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_segment(key: KeyPath, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a segment no commitment or agreement refers to (409 names what still does)."""
    await service.delete_segment(session, key, if_match)
