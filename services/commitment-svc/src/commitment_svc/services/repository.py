from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from commitment_svc.services.models import ServiceRow


class ServiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str, *, for_update: bool = False) -> ServiceRow | None:
        statement = select(ServiceRow).where(ServiceRow.key == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        after: str | None,
        limit: int,
        *,
        customer_ref: str | None = None,
        segment_key: str | None = None,
        status: str | None = None,
    ) -> Sequence[ServiceRow]:
        statement = select(ServiceRow).order_by(col(ServiceRow.key)).limit(limit)
        if after is not None:
            statement = statement.where(col(ServiceRow.key) > after)
        for column, value in (
            (ServiceRow.customer_ref, customer_ref),
            (ServiceRow.segment_key, segment_key),
            (ServiceRow.status, status),
        ):
            if value is not None:
                statement = statement.where(col(column) == value)
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, service: ServiceRow) -> None:
        self.session.add(service)
        await self.session.flush()
