from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from pledge_common.identity import Caller, identity_headers
from pledge_common.outbox import FeedEvent
from pledge_dev.testing import ServiceSpec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings
from tracking_svc.main import ALEMBIC_INI, create_app

PROCESS = "fault-repair"
NODES = ["accept", "dispatch", "repair", "verify"]
T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # Tue 10:00 +08:00
_seq = count(1)


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="tracking",
        alembic_ini=ALEMBIC_INI,
        create_app=create_app,
        settings_factory=Settings,
        env={"consume_feeds": False, "run_maintenance": False},
    )


def feed_event(type_: str, key: str, payload: dict[str, Any]) -> FeedEvent:
    """A commitment-svc feed event shaped exactly as docs/contracts.md says."""
    n = next(_seq)
    return FeedEvent(cursor=f"1:{n}", seq=n, type=type_, key=key, payload=payload, occurred_at=T0.isoformat())


def process_upserted(key: str = PROCESS, nodes: list[str] | None = None) -> FeedEvent:
    nodes = NODES if nodes is None else nodes
    return feed_event(
        "process.upserted",
        key,
        {
            "key": key,
            "name": key.replace("-", " ").title(),
            "description": "",
            "owner_department": "ops",
            "nodes": [
                {
                    "key": node,
                    "name": node.title(),
                    "position": i,
                    "department": f"dept-{node}",
                    "position_key": "agent",
                }
                for i, node in enumerate(nodes, start=1)
            ],
        },
    )


def segment_upserted(key: str) -> FeedEvent:
    return feed_event("segment.upserted", key, {"key": key, "name": key.title()})


def service_upserted(key: str, status: str = "active") -> FeedEvent:
    """commitment-svc's `service.upserted` (issue 20's contract)."""
    return feed_event(
        "service.upserted",
        key,
        {
            "key": key,
            "name": key.replace("-", " ").title(),
            "customer_ref": "hengda-steel",
            "segment": "enterprise",
            "owner_department": "operations-maintenance",
            "status": status,
        },
    )


@pytest.fixture
async def services(session: AsyncSession) -> None:
    """The services `core-network` and `backup` in the catalogue copy."""
    await apply_commitment_events(session, [service_upserted("core-network"), service_upserted("backup")])


def fact(external_id: str, type_: str, hours: float, service: str = "core-network", **fields: Any) -> dict[str, Any]:
    """A service fact body from source `monitoring`, `hours` after Tue 2026-03-03 10:00 +08:00."""
    return {
        "source": fields.pop("source", "monitoring"),
        "external_id": external_id,
        "type": type_,
        "service": service,
        "occurred_at": at(hours),
        **fields,
    }


@pytest.fixture
async def catalogue(session: AsyncSession) -> None:
    """The process `fault-repair` (nodes accept, dispatch, repair, verify) and segments vip, residential."""
    await apply_commitment_events(
        session, [process_upserted(), segment_upserted("vip"), segment_upserted("residential")]
    )


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def ev(
    event_id: str,
    type_: str,
    hours: float,
    node: str | None = None,
    external_id: str = "WO-1",
    source: str = "crm",
    process: str = PROCESS,
    ticket: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An event body: `hours` after Tue 2026-03-03 10:00 +08:00."""
    body: dict[str, Any] = {
        "event_id": event_id,
        "type": type_,
        "occurred_at": at(hours),
        "source": source,
        "ticket": {"external_id": external_id, "process": process, **(ticket or {})},
    }
    if node is not None:
        body["node"] = node
    body.update(extra)
    return body


def caller_headers(settings: Settings, sources: set[str] | None) -> dict[str, str]:
    caller = Caller(
        sub="partner",
        kind="key",
        scopes=frozenset({"events:write", "tickets:read"}),
        sources=frozenset(sources) if sources is not None else None,
    )
    return identity_headers(caller, settings.service_token)


async def feed(session: AsyncSession, type_: str | None = None) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT type, key, payload FROM outbox"
            " WHERE CAST(:t AS text) IS NULL OR type = CAST(:t AS text) ORDER BY seq"
        ),
        {"t": type_},
    )
    return [{"type": r[0], "key": r[1], "payload": r[2]} for r in rows]
