import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select, tuple_

from commitment_svc.agreements.models import AgreementRow


class AgreementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: uuid.UUID, *, for_update: bool = False) -> AgreementRow | None:
        statement = select(AgreementRow).where(AgreementRow.id == id_)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        after: tuple[str, int] | None,
        limit: int,
        *,
        key: str | None = None,
        kind: str | None = None,
        status: str | None = None,
    ) -> Sequence[AgreementRow]:
        statement = select(AgreementRow).order_by(col(AgreementRow.key), col(AgreementRow.version)).limit(limit)
        if after is not None:
            statement = statement.where(tuple_(col(AgreementRow.key), col(AgreementRow.version)) > tuple_(*after))
        for column, value in ((AgreementRow.key, key), (AgreementRow.kind, kind), (AgreementRow.status, status)):
            if value is not None:
                statement = statement.where(col(column) == value)
        return (await self.session.execute(statement)).scalars().all()

    async def versions_of(self, key: str, *, for_update: bool = False) -> Sequence[AgreementRow]:
        statement = select(AgreementRow).where(AgreementRow.key == key).order_by(col(AgreementRow.version))
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, row: AgreementRow) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, row: AgreementRow) -> None:
        await self.session.delete(row)
        await self.session.flush()
