"""/v1/api-keys: keys for partners and machines (admin scope, declared in the route table)."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, Idempotency, IdempotencyKey, idempotency_of
from pledge_common.pagination import PageParams, paged

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


async def _idempotency(
    request: Request, session: SessionDep, caller: GatewayCallerDep, idempotency_key: IdempotencyKey = None
) -> Idempotency:
    return idempotency_of(request, session, caller, idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(
    data: ApiKeyCreate, session: SessionDep, caller: GatewayCallerDep, request: Request, idem: IdempotencyDep
) -> Response:
    """Create a key; the full key is in this answer only (it is stored hashed), and in the replay of a retry with
    the same Idempotency-Key within its 24 hours."""
    classes = request.app.state.settings.rate_limits.keys()

    async def create() -> Answer:
        return Answer(201, await service.create_key(session, data, created_by=caller.sub, rate_limit_classes=classes))

    return await idem.answer(create, data)


@router.get("", response_model=ApiKeyPage)
async def list_api_keys(request: Request, response: Response, session: SessionDep, page: PageParams) -> ApiKeyPage:
    """Every key (never its secret), oldest first."""
    return paged(request, response, await service.list_keys(session, page.limit, page.cursor))


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
    idem: IdempotencyDep,
    data: Annotated[ApiKeyRotate | None, Body()] = None,
) -> Response:
    """A new key with the same rights; the old key keeps working for the grace period, then expires."""
    default = timedelta(seconds=request.app.state.settings.key_rotation_grace_seconds)
    grace = data.grace_period if data is not None and data.grace_period is not None else default

    async def rotate() -> Answer:
        created = await service.rotate_key(session, key_id, grace, created_by=caller.sub)
        request.app.state.gateway.authenticator.forget_key(key_id)
        return Answer(201, created)

    return await idem.answer(rotate, data)


@router.post("/{key_id}/revoke", response_model=ApiKeyPublic)
async def revoke_api_key(key_id: uuid.UUID, session: SessionDep, request: Request, idem: IdempotencyDep) -> Response:
    """Revoke a key at once (other gateway replicas stop accepting it within the key cache time)."""

    async def revoke() -> Answer:
        revoked = await service.revoke_key(session, key_id)
        request.app.state.gateway.authenticator.forget_key(key_id)
        return Answer(200, revoked)

    return await idem.answer(revoke)
