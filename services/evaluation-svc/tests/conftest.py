from collections.abc import AsyncIterator
from typing import Any

import pytest
from evaluation_svc.config import Settings
from evaluation_svc.main import ALEMBIC_INI, create_app
from pledge_common.db import create_sessionmaker
from pledge_dev.testing import ServiceSpec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# background loops are driven by hand in tests; webhook receivers run on loopback
TEST_ENV: dict[str, Any] = {
    "consume_feeds": False,
    "run_scanner": False,
    "run_webhooks": False,
    "run_notifications": False,
    "run_maintenance": False,
    "webhook_allowed_networks": ["127.0.0.0/8"],
}


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="evaluation", alembic_ini=ALEMBIC_INI, create_app=create_app, settings_factory=Settings, env=TEST_ENV
    )


TABLES = (
    "notify_digest_items, notify_schedules, notify_messages, notify_escalations, notify_planned, notify_rules, "
    "notify_channels, notify_contacts, "
    "webhook_attempts, webhook_deliveries, webhook_subscriptions, alerts, node_runs, run_state_hourly, "
    "run_duration_daily, ref_commitments, ref_calendars, ref_processes, ref_agreements, force_majeure, outbox"
)


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that really commit (several replicas or consumers); the tables are emptied before and after."""
    maker = create_sessionmaker(engine)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES}"))
    yield maker
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES}"))
