"""Two sender replicas at once, with real commits: each command is delivered exactly once, in order."""

import asyncio
import json

import httpx
from feedback_svc.clients import TrackingClient
from feedback_svc.complaints import service
from feedback_svc.complaints.schemas import ComplaintCreate, ComplaintTransitionCreate
from feedback_svc.complaints.sender import deliver_pass
from feedback_svc.config import Settings
from pledge_common.identity import SYSTEM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker


async def test_two_replicas_never_send_one_complaints_commands_twice_or_out_of_order(
    engine: AsyncEngine, settings: Settings
) -> None:
    maker = async_sessionmaker(engine, expire_on_commit=False)
    async with maker() as session, session.begin():
        await session.execute(text("TRUNCATE complaints CASCADE"))
    received: list[tuple[str, str]] = []
    first_call_started = asyncio.Event()
    release_first_call = asyncio.Event()

    async def tracking_edge(request: httpx.Request) -> httpx.Response:
        event = json.loads(request.content)
        if not first_call_started.is_set():
            first_call_started.set()
            await release_first_call.wait()  # replica A holds its locks while B runs a whole pass
        received.append((event["ticket"]["external_id"], event["event_id"]))
        return httpx.Response(201, json={"event_id": event["event_id"], "ticket_id": "t"})

    tracking = TrackingClient(
        httpx.AsyncClient(base_url="http://tracking", transport=httpx.MockTransport(tracking_edge)),
        settings.service_token,
    )
    complaint_ids = []
    async with maker() as session, session.begin():
        for n in range(3):
            data = ComplaintCreate.model_validate(
                {
                    "channel": "web",
                    "customer": f"K-{n}",
                    "category": "billing",
                    "severity": "simple",
                    "description": "d",
                    "received_by": {"department": "desk"},
                }
            )
            complaint = await service.create(session, tracking, settings, SYSTEM, data)
            await service.transition(
                session, tracking, settings, SYSTEM, complaint.id, ComplaintTransitionCreate(to="acknowledged")
            )
            complaint_ids.append(str(complaint.id))

    one_complaint_per_pass = settings.model_copy(update={"sender_batch": 1})

    async def replica() -> int:
        async with maker() as session, session.begin():
            return (await deliver_pass(session, tracking, one_complaint_per_pass)).delivered

    replica_a = asyncio.create_task(replica())
    await first_call_started.wait()
    delivered_by_b = await replica()
    release_first_call.set()
    delivered_by_a = await replica_a
    leftover = await replica()

    # A held one complaint's chain; B skipped it and took another; the third was left for later
    assert (delivered_by_a, delivered_by_b, leftover) == (4, 4, 4)
    assert len(received) == len({event_id for _, event_id in received}) == 12
    for complaint_id in complaint_ids:
        order = [event_id.split(f"{complaint_id}-")[1] for cid, event_id in received if cid == complaint_id]
        assert order == ["1-ticket-opened", "1-acknowledge-started", "2-acknowledge-completed", "2-resolve-started"]
    async with maker() as session, session.begin():
        pending = await session.scalar(text("SELECT count(*) FROM tracking_commands WHERE status = 'pending'"))
        await session.execute(text("TRUNCATE complaints CASCADE"))
    assert pending == 0
    await tracking.aclose()
