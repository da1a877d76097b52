"""`/v1/webhooks`: subscriptions per department (or all) with event filters, and their delivery log."""

import uuid

from fastapi import APIRouter, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, paged
from pledge_common.scopes import Scope, scoped

from evaluation_svc.pages import check_page_max
from evaluation_svc.webhooks import service
from evaluation_svc.webhooks.schemas import (
    DeliveryPage,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=scoped(Scope.alerts_manage))


@router.post("", response_model=WebhookCreated, status_code=201)
async def create_webhook(
    request: Request, session: SessionDep, caller: CallerDep, body: WebhookCreate, idem: IdempotencyDep
) -> Response:
    """Subscribe a URL to alert events; the response carries the signing secret (only this once, and to a retry
    with the same Idempotency-Key within its 24 hours)."""

    async def create() -> Answer:
        return Answer(201, await service.create(session, request.app.state.settings, caller, body))

    return await idem.answer(create, body)


@router.get("", response_model=WebhookPage)
async def list_webhooks(
    request: Request, response: Response, session: SessionDep, caller: CallerDep, page: PageParams
) -> WebhookPage:
    """The subscriptions, by creation (a partner bound to sources sees its own)."""
    check_page_max(request, page)
    return paged(request, response, await service.list_page(session, caller, page.cursor, page.limit))


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
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    subscription_id: uuid.UUID,
    page: PageParams,
) -> DeliveryPage:
    """The delivery log: each delivery with every attempt, newest first."""
    check_page_max(request, page)
    deliveries = await service.deliveries(session, caller, subscription_id, page.cursor, page.limit)
    return paged(request, response, deliveries)
