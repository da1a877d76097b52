"""`/v1/contacts`, `/v1/channels`, `/v1/notification-rules` and the log `/v1/notifications`.

All under `alerts:manage`, reads included: contacts are personal data (addresses, chat handles), channel URLs
are credentials of the chat groups, and the log names recipients."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.pagination import PageParams, paged
from pledge_common.scopes import Scope, scoped

from evaluation_svc.notify import service
from evaluation_svc.notify.schemas import (
    ChannelCreate,
    ChannelKind,
    ChannelPage,
    ChannelPublic,
    ChannelUpdate,
    ContactCreate,
    ContactPage,
    ContactPublic,
    ContactUpdate,
    MessageReason,
    MessageStatus,
    NotificationPage,
    RuleCreate,
    RulePage,
    RulePublic,
    RuleUpdate,
    ScheduleCreate,
    SchedulePage,
    SchedulePublic,
)
from evaluation_svc.pages import check_page_max

SCOPED = scoped(Scope.alerts_manage)
contacts = APIRouter(prefix="/v1/contacts", tags=["notifications"], dependencies=SCOPED)
channels = APIRouter(prefix="/v1/channels", tags=["notifications"], dependencies=SCOPED)
rules = APIRouter(prefix="/v1/notification-rules", tags=["notifications"], dependencies=SCOPED)
log = APIRouter(prefix="/v1/notifications", tags=["notifications"], dependencies=SCOPED)
schedules = APIRouter(prefix="/v1/report-subscriptions", tags=["notifications"], dependencies=SCOPED)
ROUTERS = (contacts, channels, rules, log, schedules)


@contacts.post("", response_model=ContactPublic, status_code=201)
async def create_contact(session: SessionDep, body: ContactCreate, idem: IdempotencyDep) -> Response:
    """A person of a department (and position) who receives notifications."""

    async def create() -> Answer:
        return Answer(201, await service.create_contact(session, body))

    return await idem.answer(create, body)


@contacts.get("", response_model=ContactPage)
async def list_contacts(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageParams,
    department: Annotated[str | None, Query(max_length=200)] = None,
    position: Annotated[str | None, Query(max_length=200)] = None,
) -> ContactPage:
    """Contacts by creation, of one department and position when asked."""
    check_page_max(request, page)
    return paged(request, response, await service.list_contacts(session, department, position, page.cursor, page.limit))


@contacts.get("/{contact_id}", response_model=ContactPublic)
async def get_contact(session: SessionDep, contact_id: uuid.UUID) -> ContactPublic:
    return await service.get_contact(session, contact_id)


@contacts.patch("/{contact_id}", response_model=ContactPublic)
async def update_contact(session: SessionDep, contact_id: uuid.UUID, body: ContactUpdate) -> ContactPublic:
    return await service.update_contact(session, contact_id, body)


@contacts.delete("/{contact_id}", status_code=204, responses={409: {"description": "a routing rule names it"}})
async def delete_contact(session: SessionDep, contact_id: uuid.UUID) -> Response:
    await service.delete_contact(session, contact_id)
    return Response(status_code=204)


@channels.post("", response_model=ChannelPublic, status_code=201)
async def create_channel(request: Request, session: SessionDep, body: ChannelCreate, idem: IdempotencyDep) -> Response:
    """An email channel, a chat group's incoming webhook, or a signed webhook; the secret is never answered."""

    async def create() -> Answer:
        return Answer(201, await service.create_channel(session, request.app.state.settings, body))

    return await idem.answer(create, body)


@channels.get("", response_model=ChannelPage)
async def list_channels(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageParams,
    kind: Annotated[ChannelKind | None, Query()] = None,
) -> ChannelPage:
    check_page_max(request, page)
    return paged(request, response, await service.list_channels(session, kind, page.cursor, page.limit))


@channels.get("/{channel_id}", response_model=ChannelPublic)
async def get_channel(session: SessionDep, channel_id: uuid.UUID) -> ChannelPublic:
    return await service.get_channel(session, channel_id)


@channels.patch("/{channel_id}", response_model=ChannelPublic)
async def update_channel(
    request: Request, session: SessionDep, channel_id: uuid.UUID, body: ChannelUpdate
) -> ChannelPublic:
    return await service.update_channel(session, request.app.state.settings, channel_id, body)


@channels.delete("/{channel_id}", status_code=204, responses={409: {"description": "a routing rule uses it"}})
async def delete_channel(session: SessionDep, channel_id: uuid.UUID) -> Response:
    await service.delete_channel(session, channel_id)
    return Response(status_code=204)


@rules.post("", response_model=RulePublic, status_code=201)
async def create_notification_rule(session: SessionDep, body: RuleCreate, idem: IdempotencyDep) -> Response:
    """Route alerts by department, position, process, node, segment and level to channels and contacts, with
    quiet hours and escalation."""

    async def create() -> Answer:
        return Answer(201, await service.create_rule(session, body))

    return await idem.answer(create, body)


@rules.get("", response_model=RulePage)
async def list_notification_rules(
    request: Request, response: Response, session: SessionDep, page: PageParams
) -> RulePage:
    check_page_max(request, page)
    return paged(request, response, await service.list_rules(session, page.cursor, page.limit))


@rules.get("/{rule_id}", response_model=RulePublic)
async def get_notification_rule(session: SessionDep, rule_id: uuid.UUID) -> RulePublic:
    return await service.get_rule(session, rule_id)


@rules.patch("/{rule_id}", response_model=RulePublic)
async def update_notification_rule(session: SessionDep, rule_id: uuid.UUID, body: RuleUpdate) -> RulePublic:
    """Rename, disable or enable a rule (to change what it routes, create another and delete this one)."""
    return await service.update_rule(session, rule_id, body)


@rules.delete("/{rule_id}", status_code=204)
async def delete_notification_rule(session: SessionDep, rule_id: uuid.UUID) -> Response:
    await service.delete_rule(session, rule_id)
    return Response(status_code=204)


@log.get("", response_model=NotificationPage)
async def list_notifications(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageParams,
    status: Annotated[list[MessageStatus] | None, Query()] = None,
    reason: Annotated[list[MessageReason] | None, Query()] = None,
    alert_id: Annotated[uuid.UUID | None, Query()] = None,
    channel_id: Annotated[uuid.UUID | None, Query()] = None,
) -> NotificationPage:
    """The delivery log: each message with its status, attempts and the provider's answer, newest first."""
    check_page_max(request, page)
    answer = await service.list_notifications(
        session,
        status=status or (),
        reason=reason or (),
        alert_id=alert_id,
        channel_id=channel_id,
        cursor=page.cursor,
        limit=page.limit,
    )
    return paged(request, response, answer)


@schedules.post("", response_model=SchedulePublic, status_code=201)
async def create_report_subscription(session: SessionDep, body: ScheduleCreate, idem: IdempotencyDep) -> Response:
    """Deliver a department's report for the last month to its contacts, monthly on a day at a local time (by
    default the 1st at 09:00 Asia/Shanghai): emails carry the file, chat channels a line with the console link."""

    async def create() -> Answer:
        return Answer(201, await service.create_schedule(session, body, datetime.now(UTC)))

    return await idem.answer(create, body)


@schedules.get("", response_model=SchedulePage)
async def list_report_subscriptions(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageParams,
    department: Annotated[str | None, Query(max_length=200)] = None,
) -> SchedulePage:
    check_page_max(request, page)
    return paged(request, response, await service.list_schedules(session, department, page.cursor, page.limit))


@schedules.get("/{schedule_id}", response_model=SchedulePublic)
async def get_report_subscription(session: SessionDep, schedule_id: uuid.UUID) -> SchedulePublic:
    return await service.get_schedule(session, schedule_id)


@schedules.post("/{schedule_id}/send", response_model=SchedulePublic, status_code=202)
async def send_report_subscription(session: SessionDep, schedule_id: uuid.UUID, idem: IdempotencyDep) -> Response:
    """Send the last month's report now (to try a subscription out); the subscription then goes on monthly."""

    async def send() -> Answer:
        return Answer(202, await service.send_schedule_now(session, schedule_id, datetime.now(UTC)))

    return await idem.answer(send, None)


@schedules.delete("/{schedule_id}", status_code=204)
async def delete_report_subscription(session: SessionDep, schedule_id: uuid.UUID) -> Response:
    await service.delete_schedule(session, schedule_id)
    return Response(status_code=204)
