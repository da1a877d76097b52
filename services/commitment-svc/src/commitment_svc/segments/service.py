from pledge_common.etags import check_if_match
from pledge_common.outbox import emit
from pledge_common.problems import Conflict, NotFound
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc import feed
from commitment_svc.core.models import now_utc
from commitment_svc.segments.models import Segment
from commitment_svc.segments.repository import SegmentRepository
from commitment_svc.segments.schemas import SegmentPublic, SegmentUpsert


async def get_segment(session: AsyncSession, key: str) -> Segment:
    segment = await SegmentRepository(session).get(key)
    if segment is None:
        raise NotFound(f"no segment `{key}`")
    return segment


async def upsert_segment(
    session: AsyncSession, key: str, body: SegmentUpsert, if_match: str | None
) -> tuple[Segment, bool]:
    """Create or rename a segment; returns (segment, created)."""
    repo = SegmentRepository(session)
    segment = await repo.get(key, for_update=True)
    now = now_utc()
    if segment is None:
        segment = Segment(key=key, name=body.name, created_at=now, updated_at=now)
        await repo.add(segment)
        created = True
    else:
        check_if_match(if_match, segment.row_version, required=False)
        if segment.builtin:
            raise Conflict(f"segment `{key}` is built in and cannot be changed")
        if segment.name == body.name:
            return segment, False
        segment.name = body.name
        segment.row_version += 1
        segment.updated_at = now
        await repo.add(segment)
        created = False
    await emit(session, "segment.upserted", key, SegmentPublic.model_validate(segment).feed_payload())
    return segment, created


async def delete_segment(session: AsyncSession, key: str, if_match: str | None) -> None:
    repo = SegmentRepository(session)
    segment = await repo.get(key, for_update=True)
    if segment is None:
        raise NotFound(f"no segment `{key}`")
    check_if_match(if_match, segment.row_version, required=False)
    if segment.builtin:
        raise Conflict(f"segment `{key}` is built in and cannot be deleted")
    refs = await repo.references(key)
    if refs:
        raise Conflict(f"segment `{key}` is still referenced by {', '.join(refs)}", referenced_by=refs)
    await repo.delete(segment)
    await emit(session, "segment.deleted", key, feed.payload("segment.deleted", {"key": key}))
