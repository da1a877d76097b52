"""Ticket queries. Source isolation is applied here, in SQL. Never commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tracking_svc.models import Event, KnownNode, NodeRun, Ticket


@dataclass(frozen=True, slots=True)
class TicketFilter:
    process: str | None = None
    status: str | None = None
    segment: str | None = None
    source: str | None = None
    customer_ref: str | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None


def _visible(sources: frozenset[str] | None) -> list[ColumnElement[bool]]:
    return [] if sources is None else [col(Ticket.source).in_(sorted(sources))]


def _filtered(where: TicketFilter, sources: frozenset[str] | None) -> list[ColumnElement[bool]]:
    conditions = _visible(sources)
    for column, value in (
        (Ticket.process_key, where.process),
        (Ticket.status, where.status),
        (Ticket.segment, where.segment),
        (Ticket.source, where.source),
        (Ticket.customer_ref, where.customer_ref),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if where.opened_from is not None:
        conditions.append(col(Ticket.opened_at) >= where.opened_from)
    if where.opened_to is not None:
        conditions.append(col(Ticket.opened_at) < where.opened_to)
    return conditions


async def list_tickets(
    session: AsyncSession, where: TicketFilter, sources: frozenset[str] | None, before_seq: int | None, limit: int
) -> Sequence[Ticket]:
    """Newest first (by arrival of the ticket); `before_seq` continues a page."""
    conditions = _filtered(where, sources)
    if before_seq is not None:
        conditions.append(col(Ticket.seq) < before_seq)
    query = select(Ticket).where(and_(True, *conditions)).order_by(col(Ticket.seq).desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def count_tickets(session: AsyncSession, where: TicketFilter, sources: frozenset[str] | None) -> int:
    """How many tickets match (the caller's sources applied), counted in SQL."""
    query = select(func.count()).select_from(Ticket).where(and_(True, *_filtered(where, sources)))
    return int((await session.execute(query)).scalar_one())


async def get_ticket(
    session: AsyncSession,
    sources: frozenset[str] | None,
    ticket_id: UUID | None = None,
    source: str | None = None,
    external_id: str | None = None,
) -> Ticket | None:
    conditions = _visible(sources)
    if ticket_id is not None:
        conditions.append(col(Ticket.id) == ticket_id)
    else:
        conditions += [col(Ticket.source) == source, col(Ticket.external_id) == external_id]
    return (await session.execute(select(Ticket).where(*conditions))).scalars().first()


async def node_runs(session: AsyncSession, ticket: Ticket) -> Sequence[NodeRun]:
    """In the process's node order, then cycle."""
    order = (
        select(KnownNode.position)
        .where(col(KnownNode.process_key) == ticket.process_key, col(KnownNode.node_key) == NodeRun.node_key)
        .scalar_subquery()
    )
    query = (
        select(NodeRun)
        .where(col(NodeRun.ticket_id) == ticket.id)
        .order_by(func.coalesce(order, 2**31 - 1), col(NodeRun.node_key), col(NodeRun.cycle))
    )
    return (await session.execute(query)).scalars().all()


async def raw_events(session: AsyncSession, ticket: Ticket) -> Sequence[Event]:
    query = select(Event).where(col(Event.ticket_id) == ticket.id).order_by(col(Event.occurred_at), col(Event.event_id))
    return (await session.execute(query)).scalars().all()
