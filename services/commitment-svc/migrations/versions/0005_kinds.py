"""kinds of commitment: services (configuration items) and commitments of kind availability, count,
frequency and clause

Revision ID: commitment_0005
Revises: commitment_0004
Create Date: 2026-12-03

Existing commitment versions are of kind `duration` (a node's or a process's run time). A version of another
kind names a service and, but for availability, an obligation; it has no process or node, and count and
clause versions have no limits (their `objective` holds what they are judged by).

"Exactly one in-force version governs a subject at any instant" keeps its exclusion constraint; the subject
is (process, node, segment) for durations as before and (kind, service, obligation, segment) for the other
kinds. Keys never contain the separators chr(30)/chr(31), so the two kinds of subject never read alike.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "commitment_0005"
down_revision: str | None = "commitment_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECT = (
    "CASE WHEN kind = 'duration'"
    " THEN process_key || chr(31) || coalesce(node_key, '') || chr(31) || segment_key"
    " ELSE kind || chr(30) || service_key || chr(31) || coalesce(obligation_key, '') || chr(31) || segment_key END"
)
SUBJECT_RANGE = f"int8range(hashtextextended({SUBJECT}, 0), hashtextextended({SUBJECT}, 0), '[]')"
OLD_SUBJECT = "process_key || chr(31) || coalesce(node_key, '') || chr(31) || segment_key"
OLD_SUBJECT_RANGE = f"int8range(hashtextextended({OLD_SUBJECT}, 0), hashtextextended({OLD_SUBJECT}, 0), '[]')"

UPGRADE = [
    """
    CREATE TABLE services (
        key text PRIMARY KEY,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        customer_ref text,
        segment_key text NOT NULL DEFAULT 'default' REFERENCES segments (key) ON DELETE RESTRICT,
        owner_department text REFERENCES departments (key) ON DELETE RESTRICT,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX services_customer ON services (customer_ref, key)",
    "ALTER TABLE commitment_versions DROP CONSTRAINT commitment_versions_one_governs",
    """
    ALTER TABLE commitment_versions
        ADD COLUMN kind text NOT NULL DEFAULT 'duration'
            CHECK (kind IN ('duration', 'availability', 'count', 'frequency', 'clause')),
        ADD COLUMN service_key text REFERENCES services (key) ON DELETE RESTRICT,
        ADD COLUMN obligation_key text,
        ADD COLUMN objective jsonb,
        ALTER COLUMN process_key DROP NOT NULL,
        ALTER COLUMN commitment_limit DROP NOT NULL,
        ALTER COLUMN tolerance_limit DROP NOT NULL
    """,
    """
    ALTER TABLE commitment_versions
        ADD CONSTRAINT commitment_versions_kind_subject CHECK (
            CASE WHEN kind = 'duration'
                THEN process_key IS NOT NULL AND service_key IS NULL AND obligation_key IS NULL AND objective IS NULL
                ELSE process_key IS NULL AND node_key IS NULL AND service_key IS NOT NULL AND objective IS NOT NULL
                    AND (obligation_key IS NULL) = (kind = 'availability')
            END),
        ADD CONSTRAINT commitment_versions_kind_limits CHECK (
            CASE WHEN kind IN ('count', 'clause')
                THEN commitment_limit IS NULL AND tolerance_limit IS NULL
                ELSE commitment_limit IS NOT NULL AND tolerance_limit IS NOT NULL
            END)
    """,
    f"""
    ALTER TABLE commitment_versions ADD CONSTRAINT commitment_versions_one_governs EXCLUDE USING gist (
        ({SUBJECT_RANGE}) WITH &&,
        tstzrange(effective_from, effective_to) WITH &&
    ) WHERE (status IN ('active', 'retired'))
    """,
    "CREATE INDEX commitment_versions_service ON commitment_versions (service_key, kind, obligation_key, segment_key)"
    " WHERE service_key IS NOT NULL",
]

DOWNGRADE = [
    "DELETE FROM commitment_versions WHERE kind <> 'duration'",
    "DROP INDEX commitment_versions_service",
    "ALTER TABLE commitment_versions DROP CONSTRAINT commitment_versions_one_governs",
    """
    ALTER TABLE commitment_versions
        DROP CONSTRAINT commitment_versions_kind_subject,
        DROP CONSTRAINT commitment_versions_kind_limits,
        DROP COLUMN kind,
        DROP COLUMN service_key,
        DROP COLUMN obligation_key,
        DROP COLUMN objective,
        ALTER COLUMN process_key SET NOT NULL,
        ALTER COLUMN commitment_limit SET NOT NULL,
        ALTER COLUMN tolerance_limit SET NOT NULL
    """,
    f"""
    ALTER TABLE commitment_versions ADD CONSTRAINT commitment_versions_one_governs EXCLUDE USING gist (
        ({OLD_SUBJECT_RANGE}) WITH &&,
        tstzrange(effective_from, effective_to) WITH &&
    ) WHERE (status IN ('active', 'retired'))
    """,
    "DROP TABLE services",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
