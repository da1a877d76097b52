"""kinds of commitment: services, availability / count / frequency / clause commitments and their facts

Revision ID: evaluation_0012
Revises: evaluation_0011
Create Date: 2026-12-03

Copies of commitment-svc's `service.upserted` and of its non-duration `commitment.upserted` (kept apart from
`ref_commitments`, which only ever holds commitments on node runs), and of tracking-svc's service facts:
outages, samples, occurrences and deliverables (docs/kinds.md).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0012"
down_revision: str | None = "evaluation_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    CREATE TABLE ref_services (
        key text PRIMARY KEY,
        name text NOT NULL,
        customer_ref text,
        segment text NOT NULL DEFAULT 'default',
        owner_department text,
        status text NOT NULL DEFAULT 'active'
    )
    """,
    """
    CREATE TABLE ref_kind_commitments (
        id text PRIMARY KEY,
        commitment_key text NOT NULL,
        version integer NOT NULL,
        kind text NOT NULL CHECK (kind IN ('availability', 'count', 'frequency', 'clause')),
        service_key text NOT NULL,
        obligation_key text,
        segment_key text NOT NULL,
        limit_unit text NOT NULL,
        commitment_limit text,
        tolerance_limit text,
        calendar_key text,
        objective jsonb NOT NULL DEFAULT '{}',
        owner_department text,
        status text NOT NULL,
        effective_from timestamptz,
        effective_to timestamptz
    )
    """,
    "CREATE INDEX ref_kind_commitments_service ON ref_kind_commitments (service_key, obligation_key)",
    """
    CREATE TABLE service_outages (
        id text PRIMARY KEY,
        service_key text NOT NULL,
        outage_ref text NOT NULL,
        started_at timestamptz,
        ended_at timestamptz,
        planned boolean NOT NULL DEFAULT false,
        weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0 AND weight <= 1)
    )
    """,
    # an outage of [from, to) is one with started_at < to and (ended_at IS NULL OR ended_at > from)
    "CREATE INDEX service_outages_period ON service_outages (service_key, started_at)",
    """
    CREATE TABLE service_samples (
        id text PRIMARY KEY,
        service_key text NOT NULL,
        obligation_key text NOT NULL,
        at timestamptz NOT NULL,
        value double precision NOT NULL
    )
    """,
    "CREATE INDEX service_samples_period ON service_samples (service_key, obligation_key, at)",
    """
    CREATE TABLE service_occurrences (
        id text PRIMARY KEY,
        service_key text NOT NULL,
        obligation_key text NOT NULL,
        at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX service_occurrences_period ON service_occurrences (service_key, obligation_key, at)",
    """
    CREATE TABLE service_deliverables (
        id text PRIMARY KEY,
        service_key text NOT NULL,
        obligation_key text NOT NULL,
        delivered_at timestamptz,
        signed_off_at timestamptz,
        signed_by text,
        evidence text
    )
    """,
    "CREATE INDEX service_deliverables_obligation ON service_deliverables (service_key, obligation_key)",
)
TABLES = (
    "service_deliverables",
    "service_occurrences",
    "service_samples",
    "service_outages",
    "ref_kind_commitments",
    "ref_services",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE {table}")
