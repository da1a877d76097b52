"""The schema keeps to the Citus path of docs/operations.md ("Past one Postgres"): tickets, node runs and
the event log distributed on the ticket and co-located, event ids on their own, definitions as reference
tables, the rest on the coordinator."""

from pledge_dev.citus import Distributed, Placement, violations
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PLACEMENT = Placement(
    distributed={
        "tickets": Distributed("id", "ticket"),
        "node_runs": Distributed("ticket_id", "ticket"),
        "events": Distributed("ticket_id", "ticket"),
        "event_keys": Distributed("event_id", "event_key"),
    },
    reference=frozenset(
        {"known_processes", "known_nodes", "known_segments", "known_services", "alertmanager_mappings"}
    ),
    local=frozenset(
        {
            "alembic_version",
            "consumer_cursors",
            "idempotency_keys",
            "outbox",
            "service_facts",
            "outages",
            "samples",
            "occurrences",
            "deliverables",
        }
    ),
    # a ticket is found by (source, external_id) and paged by seq: both move to a key table distributed on
    # external_id before tickets are distributed (docs/operations.md)
    pending=frozenset({"tickets.tickets_source_external_id_key", "tickets.tickets_seq_key"}),
)


async def test_the_migrated_schema_keeps_to_the_citus_placement(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await violations(conn, "tracking", PLACEMENT) == []


async def test_the_check_names_what_citus_would_refuse(engine: AsyncEngine) -> None:
    statements = (
        "DROP SCHEMA IF EXISTS citus_probe CASCADE",
        "CREATE SCHEMA citus_probe",
        "CREATE TABLE citus_probe.defs (key text PRIMARY KEY)",
        "CREATE TABLE citus_probe.runs (id uuid PRIMARY KEY, ticket_id uuid NOT NULL, def text REFERENCES"
        " citus_probe.defs (key))",
        "CREATE TABLE citus_probe.notes (id int PRIMARY KEY, run_id uuid REFERENCES citus_probe.runs (id))",
        "CREATE TABLE citus_probe.stray (id int)",
    )
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))
        placement = Placement(
            distributed={"runs": Distributed("ticket_id", "ticket")},
            reference=frozenset({"defs"}),
            local=frozenset({"notes"}),
        )
        found = await violations(conn, "citus_probe", placement)
        await conn.execute(text("DROP SCHEMA citus_probe CASCADE"))
    assert found == [
        "stray: not placed (distributed, reference or local?)",
        "notes.notes_run_id_fkey: breaks a rule (not in the documented pending list)",
        "runs.runs_pkey: breaks a rule (not in the documented pending list)",
    ]
