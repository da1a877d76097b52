"""The schema keeps to the Citus path of docs/operations.md ("Past one Postgres"): node runs distributed on
their id, the copies of commitment-svc's definitions as reference tables, the rest on the coordinator."""

from pledge_dev.citus import Distributed, Placement, violations
from sqlalchemy.ext.asyncio import AsyncEngine

PLACEMENT = Placement(
    distributed={"node_runs": Distributed("id", "run")},
    reference=frozenset(
        {
            "ref_departments",
            "ref_segments",
            "ref_calendars",
            "ref_processes",
            "ref_commitments",
            "ref_agreements",
            "force_majeure",
            "ref_kind_commitments",
            "ref_services",
        }
    ),
    local=frozenset(
        {
            "alembic_version",
            "consumer_cursors",
            "idempotency_keys",
            "outbox",
            "alerts",
            "run_state_hourly",
            "run_duration_daily",
            "rejudgements",
            "rejudged_runs",
            "settlements",
            "custom_kpis",
            "kpi_targets",
            "scorecard_snapshots",
            "service_deliverables",
            "service_occurrences",
            "service_outages",
            "service_samples",
            "webhook_subscriptions",
            "webhook_deliveries",
            "webhook_attempts",
            "notify_channels",
            "notify_contacts",
            "notify_digest_items",
            "notify_escalations",
            "notify_messages",
            "notify_planned",
            "notify_rules",
            "notify_schedules",
        }
    ),
)


async def test_the_migrated_schema_keeps_to_the_citus_placement(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await violations(conn, "evaluation", PLACEMENT) == []
