from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from commitment_svc.segments.models import Segment


class SegmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str, *, for_update: bool = False) -> Segment | None:
        statement = select(Segment).where(Segment.key == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, after: str | None, limit: int) -> Sequence[Segment]:
        statement = select(Segment).order_by(col(Segment.key)).limit(limit)
        if after is not None:
            statement = statement.where(col(Segment.key) > after)
        return (await self.session.execute(statement)).scalars().all()

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        rows = await self.session.execute(select(Segment.key).where(col(Segment.key).in_(list(keys))))
        return set(rows.scalars().all())

    async def add(self, segment: Segment) -> None:
        self.session.add(segment)
        await self.session.flush()

    async def delete(self, segment: Segment) -> None:
        await self.session.delete(segment)
        await self.session.flush()

    async def references(self, key: str) -> list[str]:
        """What still points at this segment (commitment versions, services, agreement scopes)."""
        rows = await self.session.execute(
            text(
                "SELECT 'commitment ' || commitment_key || ' v' || version FROM commitment_versions"
                " WHERE segment_key = :k"
                " UNION ALL SELECT 'service ' || key FROM services WHERE segment_key = :k"
                " UNION ALL SELECT 'agreement ' || key || ' v' || version FROM agreements"
                " WHERE scope -> 'segments' ? :k LIMIT 20"
            ),
            {"k": key},
        )
        return list(rows.scalars().all())
