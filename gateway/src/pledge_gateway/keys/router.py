"""/v1/api-keys: keys for partners and machines (admin scope, declared in the route table)."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pledge_common.db import SessionDep

from pledge_gateway.auth import GatewayCallerDep
from pledge_gateway.keys import service
from pledge_gateway.keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    ApiKeyPublic,
    ApiKeyRotate,
    ApiKeyUpdate,
)

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    data: ApiKeyCreate, session: SessionDep, caller: GatewayCallerDep, request: Request
) -> ApiKeyCreated:
    """Create a key; the full key is in this answer only (it is stored hashed)."""
    classes = request.app.state.settings.rate_limits.keys()
    return await service.create_key(session, data, created_by=caller.sub, rate_limit_classes=classes)


@router.get("", response_model=ApiKeyPage)
async def list_api_keys(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ApiKeyPage:
    """Every key (never its secret), oldest first."""
    return await service.list_keys(session, limit, cursor)


@router.get("/{key_id}", response_model=ApiKeyPublic)
async def get_api_key(key_id: uuid.UUID, session: SessionDep) -> ApiKeyPublic:
    """One key (never its secret)."""
    return await service.get_key(session, key_id)


@router.patch("/{key_id}", response_model=ApiKeyPublic)
async def update_api_key(key_id: uuid.UUID, data: ApiKeyUpdate, session: SessionDep, request: Request) -> ApiKeyPublic:
    """Change a key's rate-limit overrides (other gateway replicas apply them within the key cache time)."""
    classes = request.app.state.settings.rate_limits.keys()
    updated = await service.update_key(session, key_id, data, rate_limit_classes=classes)
    request.app.state.gateway.authenticator.forget_key(key_id)
    return updated


@router.post("/{key_id}/rotate", status_code=201, response_model=ApiKeyCreated)
async def rotate_api_key(
    key_id: uuid.UUID,
    session: SessionDep,
    caller: GatewayCallerDep,
    request: Request,
    data: Annotated[ApiKeyRotate | None, Body()] = None,
) -> ApiKeyCreated:
    """A new key with the same rights; the old key keeps working for the grace period, then expires."""
    default = timedelta(seconds=request.app.state.settings.key_rotation_grace_seconds)
    grace = data.grace_period if data is not None and data.grace_period is not None else default
    created = await service.rotate_key(session, key_id, grace, created_by=caller.sub)
    request.app.state.gateway.authenticator.forget_key(key_id)
    return created


@router.post("/{key_id}/revoke", response_model=ApiKeyPublic)
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep, request: Request) -> ApiKeyPublic:
    """Revoke a key at once (other gateway replicas stop accepting it within the key cache time)."""
    revoked = await service.revoke_key(session, key_id)
    request.app.state.gateway.authenticator.forget_key(key_id)
    return revoked
