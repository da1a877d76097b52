"""services (copied from commitment-svc's feed) and their facts: outages, samples, occurrences, deliverables

`known_services`: the copy of commitment-svc's `/v1/services` (facts naming another service are refused).
`service_facts`: the raw log of every fact accepted, keyed by (source, external_id) like `events`.
`outages`: one row per (service, outage_ref), holding its start and its end whichever arrived first, and the
sources of its facts (a key bound to sources reads the outages its sources reported).
`samples` / `occurrences`: one row per fact. `deliverables`: one row per (service, obligation).
`alertmanager_mappings`: how an Alertmanager alert names its service.

Revision ID: tracking_0009
Revises: tracking_0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0009"
down_revision: str | None = "tracking_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
    CREATE TABLE known_services (
        key text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        customer_ref text,
        segment text,
        owner_department text,
        status text NOT NULL DEFAULT 'active',
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE service_facts (
        source text NOT NULL,
        external_id text NOT NULL,
        type text NOT NULL,
        service_key text NOT NULL,
        occurred_at timestamptz NOT NULL,
        payload_hash bytea NOT NULL,
        body jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        request_id text,
        PRIMARY KEY (source, external_id)
    )
    """,
    """
    CREATE TABLE outages (
        id uuid PRIMARY KEY,
        service_key text NOT NULL,
        outage_ref text NOT NULL,
        started_at timestamptz,
        ended_at timestamptz,
        planned boolean NOT NULL DEFAULT false,
        weight double precision NOT NULL DEFAULT 1.0,
        summary text,
        sources text[] NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT outages_ref_unique UNIQUE (service_key, outage_ref),
        CONSTRAINT outages_weight_range CHECK (weight > 0 AND weight <= 1),
        CONSTRAINT outages_end_after_start CHECK (started_at IS NULL OR ended_at IS NULL OR ended_at >= started_at),
        CONSTRAINT outages_known_instant CHECK (started_at IS NOT NULL OR ended_at IS NOT NULL)
    )
    """,
    "CREATE INDEX outages_by_service_start ON outages (service_key, (coalesce(started_at, ended_at)), id)",
    "CREATE INDEX outages_by_start ON outages ((coalesce(started_at, ended_at)), id)",
    """
    CREATE TABLE samples (
        id uuid PRIMARY KEY,
        source text NOT NULL,
        external_id text NOT NULL,
        service_key text NOT NULL,
        obligation_key text NOT NULL,
        at timestamptz NOT NULL,
        value double precision NOT NULL,
        UNIQUE (source, external_id)
    )
    """,
    "CREATE INDEX samples_by_obligation ON samples (service_key, obligation_key, at)",
    """
    CREATE TABLE occurrences (
        id uuid PRIMARY KEY,
        source text NOT NULL,
        external_id text NOT NULL,
        service_key text NOT NULL,
        obligation_key text NOT NULL,
        at timestamptz NOT NULL,
        evidence text,
        UNIQUE (source, external_id)
    )
    """,
    "CREATE INDEX occurrences_by_obligation ON occurrences (service_key, obligation_key, at)",
    """
    CREATE TABLE deliverables (
        id uuid PRIMARY KEY,
        service_key text NOT NULL,
        obligation_key text NOT NULL,
        delivered_at timestamptz,
        evidence text,
        evidence_version text,
        signed_off_at timestamptz,
        signed_by text,
        signed_version text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT deliverables_unique UNIQUE (service_key, obligation_key)
    )
    """,
    """
    CREATE TABLE alertmanager_mappings (
        key text PRIMARY KEY,
        receiver text,
        service_label text NOT NULL DEFAULT 'service',
        service_map jsonb,
        planned_label text,
        weight_label text,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # at most one mapping per receiver, and one for any receiver (null)
    "CREATE UNIQUE INDEX alertmanager_mappings_receiver ON alertmanager_mappings ((coalesce(receiver, '')))",
]
TABLES = (
    "alertmanager_mappings",
    "deliverables",
    "occurrences",
    "samples",
    "outages",
    "service_facts",
    "known_services",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE {table}")
