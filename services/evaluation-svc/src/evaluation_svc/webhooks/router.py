"""`/v1/webhooks`: subscriptions per department (or all) with event filters, and their delivery log."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.webhooks import service
from evaluation_svc.webhooks.schemas import (
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=scoped(Scope.alerts_manage))


@router.post("", response_model=WebhookCreated, status_code=201)
async def create_webhook(
    request: Request, session: SessionDep, caller: CallerDep, body: WebhookCreate
) -> WebhookCreated:
    """Subscribe a URL to alert events; the response carries the signing secret (only this once)."""
    return await service.create(session, request.app.state.settings, caller, body)


@router.get("", response_model=WebhookList)
async def list_webhooks(session: SessionDep, caller: CallerDep) -> WebhookList:
    """Every subscription (a partner bound to sources sees its own)."""
    return await service.list_all(session, caller)


@router.get("/{subscription_id}", response_model=WebhookPublic)
async def get_webhook(session: SessionDep, caller: CallerDep, subscription_id: uuid.UUID) -> WebhookPublic:
    """One subscription."""
    return await service.get(session, caller, subscription_id)


@router.patch("/{subscription_id}", response_model=WebhookPublic)
async def update_webhook(
    request: Request, session: SessionDep, caller: CallerDep, subscription_id: uuid.UUID, body: WebhookUpdate
) -> WebhookPublic:
    """Change a subscription; `{"enabled": true}` re-enables one disabled after failures."""
    return await service.update(session, request.app.state.settings, caller, subscription_id, body)


@router.delete("/{subscription_id}", status_code=204)
async def delete_webhook(session: SessionDep, caller: CallerDep, subscription_id: uuid.UUID) -> Response:
    """Remove a subscription and its delivery log."""
    await service.delete(session, caller, subscription_id)
    return Response(status_code=204)


@router.get("/{subscription_id}/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    subscription_id: uuid.UUID,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1)] = 50,
) -> DeliveryPage:
    """The delivery log: each delivery with every attempt, newest first."""
    if limit > request.app.state.settings.page_max:
        raise invalid("limit", f"a page holds at most {request.app.state.settings.page_max} deliveries")
    return await service.deliveries(session, caller, subscription_id, cursor, limit)
