"""`GET /v1/tickets` (filters, cursor pagination) and `GET /v1/tickets/{ref}` (with runs, pauses, events)."""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, decode_cursor, encode_cursor, paged
from pledge_common.problems import NotFound, invalid
from pledge_common.scopes import Scope, scoped
from pydantic import AwareDatetime

from tracking_svc.models import Ticket
from tracking_svc.tickets import repository as repo
from tracking_svc.tickets.schemas import (
    NodeRunPublic,
    RawEventPublic,
    TicketCount,
    TicketDetailPublic,
    TicketPage,
    TicketPublic,
)

router = APIRouter(prefix="/v1/tickets", tags=["tickets"], dependencies=scoped(Scope.tickets_read, Scope.events_write))


def _public(ticket: Ticket) -> TicketPublic:
    return TicketPublic.model_validate(ticket, from_attributes=True)


def ticket_filter(
    process: str | None = Query(default=None, description="process key"),
    status: Literal["open", "closed", "cancelled"] | None = Query(default=None),
    segment: str | None = Query(default=None),
    source: str | None = Query(default=None),
    customer: str | None = Query(default=None, description="customer reference"),
    opened_from: AwareDatetime | None = Query(default=None, alias="from", description="opened at or after"),
    opened_to: AwareDatetime | None = Query(default=None, alias="to", description="opened before (exclusive)"),
) -> repo.TicketFilter:
    """The filters shared by the list and the count: a window `[from, to)` on the ticket's `opened_at`."""
    if opened_from is not None and opened_to is not None and opened_to <= opened_from:
        raise invalid("query.to", "must be after from")
    return repo.TicketFilter(process, status, segment, source, customer, opened_from, opened_to)


FilterDep = Annotated[repo.TicketFilter, Depends(ticket_filter)]


@router.get("", response_model=TicketPage)
async def list_tickets(
    request: Request, response: Response, session: SessionDep, caller: CallerDep, where: FilterDep, page: PageParams
) -> TicketPage:
    """Tickets visible to the caller, newest first."""
    before = decode_cursor(page.cursor, int)
    rows = await repo.list_tickets(session, where, caller.sources, before[0] if before else None, page.limit + 1)
    chosen = rows[: page.limit]
    next_cursor = encode_cursor(chosen[-1].seq) if len(rows) > page.limit else None
    return paged(request, response, TicketPage(items=[_public(t) for t in chosen], next_cursor=next_cursor))


@router.get("/count", response_model=TicketCount)
async def count_tickets(session: SessionDep, caller: CallerDep, where: FilterDep) -> TicketCount:
    """How many tickets visible to the caller match the filters of `GET /v1/tickets`."""
    return TicketCount(count=await repo.count_tickets(session, where, caller.sources))


@router.get("/{ref:path}", response_model=TicketDetailPublic, responses={404: {"description": "no such ticket"}})
async def get_ticket(
    session: SessionDep,
    caller: CallerDep,
    ref: str = Path(description="the ticket id, or `<source>:<external id>`", examples=["crm:WO-123"]),
) -> TicketDetailPublic:
    """One ticket with its node runs (every cycle), pauses and raw events."""
    source, sep, external_id = ref.partition(":")
    if sep:
        ticket = await repo.get_ticket(session, caller.sources, source=source, external_id=external_id)
    else:
        try:
            ticket_id = UUID(ref)
        except ValueError:
            raise invalid("path.ref", "a ticket id (UUID) or `<source>:<external id>`") from None
        ticket = await repo.get_ticket(session, caller.sources, ticket_id=ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket {ref}")
    runs = await repo.node_runs(session, ticket)
    events = await repo.raw_events(session, ticket)
    return TicketDetailPublic(
        **_public(ticket).model_dump(),
        node_runs=[NodeRunPublic.model_validate(r, from_attributes=True) for r in runs],
        events=[RawEventPublic.model_validate(e, from_attributes=True) for e in events],
    )
