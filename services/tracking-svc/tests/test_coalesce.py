"""Single events sent at once are written together, each answered with its own outcome (real Postgres,
committed transactions)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from uuid import UUID

import msgspec
import pytest
from conftest import ev, process_upserted
from pledge_common.db import committing
from pledge_common.identity import Caller
from pledge_common.observability import set_request_id
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings
from tracking_svc.ingest.coalesce import SingleEvents
from tracking_svc.ingest.schemas import EventIn
from tracking_svc.ingest.service import Outcome

CALLER = Caller(sub="partner", kind="key", scopes=frozenset(), sources=None)
TABLES = "events, event_keys, tickets, node_runs, outbox, known_processes, known_nodes"


class Transactions:
    """A unit of work on the real database that counts the transactions it began (and fails the n-th)."""

    def __init__(self, engine: AsyncEngine, fail_on: int = 0) -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.begun = 0
        self.fail_on = fail_on
        self.writing = asyncio.Event()  # a transaction has begun

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._run()

    @asynccontextmanager
    async def _run(self) -> AsyncIterator[AsyncSession]:
        self.begun += 1
        self.writing.set()
        if self.begun == self.fail_on:
            raise OperationalError("BEGIN", {}, Exception("the server closed the connection"))
        async with committing(self.sessions) as session:
            yield session


@pytest.fixture
async def clean(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        await setup.execute(text(f"TRUNCATE {TABLES}"))
        await apply_commitment_events(setup, [process_upserted()])
        await setup.commit()
    yield sessions
    async with sessions() as cleanup:
        await cleanup.execute(text(f"TRUNCATE {TABLES}"))
        await cleanup.commit()


async def send(singles: SingleEvents, body: dict[str, object], request_id: str) -> Outcome:
    set_request_id(request_id)  # each request's own (this task's context)
    return await singles.ingest(msgspec.convert(body, EventIn), CALLER)


async def test_events_sent_at_once_share_transactions_and_keep_their_request_ids(
    engine: AsyncEngine, settings: Settings, clean: async_sessionmaker[AsyncSession]
) -> None:
    transactions = Transactions(engine)
    singles = SingleEvents(transactions, settings)
    bodies = [ev(f"s{i}", "node.started", i, "repair", external_id=f"WO-{i}") for i in range(20)]
    outcomes = await asyncio.gather(*(send(singles, b, f"req-{i}") for i, b in enumerate(bodies)))
    assert [o.status for o in outcomes] == ["accepted"] * 20
    assert [o.event_id for o in outcomes] == [f"s{i}" for i in range(20)]
    assert transactions.begun == 1  # all came before the first was written: one transaction
    async with clean() as check:
        stored: dict[str, str] = dict((await check.execute(text("SELECT event_id, request_id FROM events"))).all())
        assert stored == {f"s{i}": f"req-{i}" for i in range(20)}
        tickets: dict[str, UUID] = dict((await check.execute(text("SELECT external_id, id FROM tickets"))).all())
        assert {o.ticket_id for o in outcomes} == set(tickets.values())
        assert await check.scalar(text("SELECT count(*) FROM node_runs WHERE status = 'in_progress'")) == 20


async def test_each_request_gets_its_own_outcome_in_a_shared_batch(
    engine: AsyncEngine, settings: Settings, clean: async_sessionmaker[AsyncSession]
) -> None:
    singles = SingleEvents(Transactions(engine), settings)
    bodies = [
        ev("warm-up", "ticket.opened", 0, external_id="WO-0"),
        ev("ok", "node.started", 1, "repair"),
        ev("bad-node", "node.started", 1, "warp"),
        ev("twice", "node.started", 1, "accept"),
        ev("twice", "node.started", 1, "accept"),
        ev("late", "ticket.closed", 0.5, external_id="WO-2"),
        ev("early", "ticket.opened", 2, external_id="WO-2"),  # opened after its close: refused
    ]
    outcomes = await asyncio.gather(*(send(singles, b, f"req-{i}") for i, b in enumerate(bodies)))
    assert [(o.event_id, o.status) for o in outcomes] == [
        ("warm-up", "accepted"),
        ("ok", "accepted"),
        ("bad-node", "rejected"),
        ("twice", "accepted"),
        ("twice", "duplicate"),
        ("late", "accepted"),
        ("early", "rejected"),
    ]
    assert (outcomes[2].field, outcomes[6].field) == ("node", "occurred_at")
    assert outcomes[4].ticket_id == outcomes[3].ticket_id
    async with clean() as check:
        assert await check.scalar(text("SELECT count(*) FROM events")) == 4


async def test_a_batch_that_fails_is_ingested_again_event_by_event(
    engine: AsyncEngine, settings: Settings, clean: async_sessionmaker[AsyncSession]
) -> None:
    transactions = Transactions(engine, fail_on=2)
    singles = SingleEvents(transactions, settings)
    first = asyncio.create_task(send(singles, ev("a", "ticket.opened", 0, external_id="WO-a"), "req-a"))
    await transactions.writing.wait()  # the first is being written: the next three queue behind it
    queued = [
        asyncio.create_task(send(singles, ev(f"b{i}", "ticket.opened", 0, external_id=f"WO-b{i}"), f"req-b{i}"))
        for i in range(3)
    ]
    await first
    # the second batch failed as a whole, then went event by event: every request still gets its answer
    outcomes = await asyncio.gather(*queued)
    assert [o.status for o in outcomes] == ["accepted"] * 3
    assert transactions.begun == 1 + 1 + 3
    async with clean() as check:
        assert await check.scalar(text("SELECT count(*) FROM events")) == 4


async def test_an_event_that_fails_alone_raises_to_its_request_only(
    engine: AsyncEngine, settings: Settings, clean: async_sessionmaker[AsyncSession]
) -> None:
    transactions = Transactions(engine, fail_on=1)
    singles = SingleEvents(transactions, settings)
    with pytest.raises(OperationalError):
        await send(singles, ev("a", "ticket.opened", 0), "req-a")
    assert (await send(singles, ev("a", "ticket.opened", 0), "req-a2")).status == "accepted"


async def test_requests_waiting_when_the_service_stops_are_answered_with_the_stop(
    engine: AsyncEngine, settings: Settings, clean: async_sessionmaker[AsyncSession]
) -> None:
    transactions = Transactions(engine)
    singles = SingleEvents(transactions, settings)
    first = asyncio.create_task(send(singles, ev("a", "ticket.opened", 0, external_id="WO-a"), "req-a"))
    await transactions.writing.wait()  # the first is being written; the second queues behind it
    second = asyncio.create_task(send(singles, ev("b", "ticket.opened", 0, external_id="WO-b"), "req-b"))
    await asyncio.sleep(0)
    [drain] = singles._drains  # the service stops: its tasks are cancelled
    drain.cancel()
    for request in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(request, timeout=5)
