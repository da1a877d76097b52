from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.scopes import Scope, scoped

from commitment_svc.core.etags import set_etag
from commitment_svc.core.idempotency import Answer, IdempotencyKey, answer_once
from commitment_svc.core.params import AFTER_FIELD, After, IfMatch, KeyPath, Limit
from commitment_svc.core.schemas import Page, created
from commitment_svc.segments import service
from commitment_svc.segments.repository import SegmentRepository
from commitment_svc.segments.schemas import SegmentPublic, SegmentUpsert

router = APIRouter(
    prefix="/v1/segments", tags=["segments"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_segments(session: SessionDep, after: After = None, limit: Limit = 100) -> Page[SegmentPublic]:
    """Customer segments, by key."""
    cursor = decode_cursor(after, str, field=AFTER_FIELD)
    rows = await SegmentRepository(session).page(cursor[0] if cursor else None, limit + 1)
    items = [SegmentPublic.model_validate(r) for r in rows[:limit]]
    return Page(items=items, next=encode_cursor(items[-1].key) if len(rows) > limit else None)


@router.get("/{key}")
async def get_segment(key: KeyPath, session: SessionDep, response: Response) -> SegmentPublic:
    """One customer segment."""
    segment = await service.get_segment(session, key)
    set_etag(response, segment.row_version)
    return SegmentPublic.model_validate(segment)


@router.put("/{key}", response_model=SegmentPublic, responses=created(SegmentPublic))
async def put_segment(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: SegmentUpsert,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a segment or rename it (201 when created)."""

    async def upsert() -> Answer:
        segment, created = await service.upsert_segment(session, key, body, if_match)
        return Answer.upserted(SegmentPublic.model_validate(segment), created, segment.row_version)

    return await answer_once(request, session, caller, idempotency_key, body, upsert)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_segment(key: KeyPath, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a segment no commitment or agreement refers to (409 names what still does)."""
    await service.delete_segment(session, key, if_match)
