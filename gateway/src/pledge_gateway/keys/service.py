"""API key operations: create (shown once), list, change rate limits, rotate with a grace period, revoke."""

import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from pledge_gateway.config import RateLimit
from pledge_gateway.keys import material
from pledge_gateway.keys.models import ApiKey
from pledge_gateway.keys.repository import ApiKeyRepository
from pledge_gateway.keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyPublic,
    ApiKeyUpdate,
    RateLimitOverride,
)

MAX_GRACE = timedelta(days=30)


def to_public(key: ApiKey, now: datetime | None = None) -> ApiKeyPublic:
    status = material.key_status(key.expires_at, key.revoked_at, now or datetime.now(UTC))
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes),
        sources=list(key.sources) if key.sources is not None else None,
        status=status,  # type: ignore[arg-type]
        created_at=key.created_at,
        created_by=key.created_by,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        replaced_by=key.replaced_by,
        owner_id=key.owner_id,
        # as the edge applies them (a stored value from before the bounds is shown within them)
        rate_limits={
            name: RateLimitOverride(**RateLimit.within_bounds(limit["rate"], limit["burst"]).model_dump())
            for name, limit in (key.rate_limits or {}).items()
        },
    )


def rate_limit_overrides(overrides: dict[str, RateLimitOverride], classes: Collection[str]) -> dict[str, Any]:
    """The overrides as stored; each must name one of the gateway's rate-limit buckets (`classes`)."""
    for name in overrides:
        if name not in classes:
            known = ", ".join(sorted(classes))
            raise invalid(f"rate_limits.{name}", f"not a rate-limit bucket of this gateway (known: {known})")
    return {name: limit.model_dump() for name, limit in sorted(overrides.items())}


def _new_row(
    name: str,
    scopes: list[str],
    sources: list[str] | None,
    expires_at: datetime | None,
    created_by: str | None,
    now: datetime,
    rate_limits: dict[str, Any],
    owner_id: uuid.UUID | None = None,
) -> tuple[str, ApiKey]:
    """A new key; `owner_id`: the owner of the key it replaces (a rotation), else the new key's own id."""
    full_key, parsed = material.new_key()
    salt = material.new_salt()
    key_id = uuid.uuid4()
    row = ApiKey(
        id=key_id,
        owner_id=owner_id or key_id,
        name=name,
        prefix=parsed.prefix,
        secret_hash=material.hash_secret(parsed.secret, salt),
        salt=salt,
        scopes=sorted(set(scopes)),
        sources=sorted(set(sources)) if sources is not None else None,
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
        rate_limits=rate_limits,
    )
    return full_key, row


def _created(full_key: str, row: ApiKey, now: datetime) -> ApiKeyCreated:
    return ApiKeyCreated(**to_public(row, now).model_dump(), key=full_key)


async def create_key(
    session: AsyncSession, data: ApiKeyCreate, created_by: str | None, rate_limit_classes: Collection[str]
) -> ApiKeyCreated:
    now = datetime.now(UTC)
    if data.expires_at is not None and data.expires_at <= now:
        raise invalid("expires_at", "must be in the future")
    overrides = rate_limit_overrides(data.rate_limits, rate_limit_classes)
    scopes = [s.value for s in data.scopes]
    full_key, row = _new_row(data.name, scopes, data.sources, data.expires_at, created_by, now, overrides)
    await ApiKeyRepository(session).add(row)
    return _created(full_key, row, now)


async def get_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKeyPublic:
    row = await ApiKeyRepository(session).get(key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    return to_public(row)


async def update_key(
    session: AsyncSession, key_id: uuid.UUID, data: ApiKeyUpdate, rate_limit_classes: Collection[str]
) -> ApiKeyPublic:
    """Change what the request names (fields left out stay as they are)."""
    overrides = None
    if "rate_limits" in data.model_fields_set:
        overrides = rate_limit_overrides(data.rate_limits or {}, rate_limit_classes)
    row = await ApiKeyRepository(session).get_for_update(key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if overrides is not None:
        row.rate_limits = overrides
        session.add(row)
        await session.flush()
    return to_public(row)


async def list_keys(session: AsyncSession, limit: int, cursor: str | None) -> ApiKeyPage:
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await ApiKeyRepository(session).page(limit + 1, after)
    now = datetime.now(UTC)
    items = [to_public(r, now) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return ApiKeyPage(items=items, next_cursor=encode_cursor(last.created_at, last.id) if last is not None else None)


async def rotate_key(
    session: AsyncSession, key_id: uuid.UUID, grace: timedelta, created_by: str | None
) -> ApiKeyCreated:
    """A new key with the same name, scopes, sources, rate limits and owner; the old one stays valid for
    `grace`."""
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise invalid("grace_period", "must be between PT0S and P30D")
    repository = ApiKeyRepository(session)
    old = await repository.get_for_update(key_id)
    if old is None:
        raise NotFound(f"no API key {key_id}")
    now = datetime.now(UTC)
    status = material.key_status(old.expires_at, old.revoked_at, now)
    if status != "active" or old.replaced_by is not None:
        raise Conflict(f"only an active key that was not rotated already can be rotated (this one is {status})")
    full_key, row = _new_row(
        old.name, old.scopes, old.sources, old.expires_at, created_by, now, dict(old.rate_limits), old.owner_id
    )
    await repository.add(row)
    grace_end = now + grace
    old.expires_at = min(old.expires_at, grace_end) if old.expires_at else grace_end
    old.replaced_by = row.id
    session.add(old)
    await session.flush()
    return _created(full_key, row, now)


async def revoke_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKeyPublic:
    repository = ApiKeyRepository(session)
    row = await repository.get_for_update(key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        await session.flush()
    return to_public(row)


async def create_admin_key_if_none(session: AsyncSession, name: str = "bootstrap admin") -> str | None:
    """The bootstrap: a first admin key, only when no active admin key exists."""
    now = datetime.now(UTC)
    repository = ApiKeyRepository(session)
    await repository.lock_bootstrap()
    if await repository.active_admin_exists(now):
        return None
    full_key, row = _new_row(name, ["admin"], None, None, "bootstrap", now, {})
    await repository.add(row)
    return full_key
