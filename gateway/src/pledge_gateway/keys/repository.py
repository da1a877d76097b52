"""All SQL about API keys. Never commits: the caller's session does."""

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from pledge_gateway.keys.models import ApiKey


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def get_for_update(self, key_id: uuid.UUID) -> ApiKey | None:
        result = await self.session.execute(select(ApiKey).where(col(ApiKey.id) == key_id).with_for_update())
        return result.scalar_one_or_none()

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        result = await self.session.execute(select(ApiKey).where(col(ApiKey.prefix) == prefix))
        return result.scalar_one_or_none()

    async def page(self, limit: int, after: tuple[datetime, uuid.UUID] | None) -> list[ApiKey]:
        created, key_id = col(ApiKey.created_at), col(ApiKey.id)
        query = select(ApiKey).order_by(created, key_id).limit(limit)
        if after is not None:
            at, last_id = after
            query = query.where(or_(created > at, and_(created == at, key_id > last_id)))
        result = await self.session.execute(query)
        return list(result.scalars())

    async def active_admin_exists(self, now: datetime) -> bool:
        expires = col(ApiKey.expires_at)
        query = (
            select(col(ApiKey.id))
            .where(
                col(ApiKey.scopes).contains(["admin"]),
                col(ApiKey.revoked_at).is_(None),
                or_(expires.is_(None), expires > now),
            )
            .limit(1)
        )
        return (await self.session.execute(query)).first() is not None

    async def lock_bootstrap(self) -> None:
        """Serialise concurrent bootstraps (one transaction-scoped advisory lock)."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('pledge-gateway-bootstrap'))"))
