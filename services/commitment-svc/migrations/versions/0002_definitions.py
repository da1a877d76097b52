"""definitions: departments, positions, segments, calendars, processes, nodes, commitment versions, agreements

Revision ID: commitment_0002
Revises: commitment_0001
Create Date: 2026-11-21

"Exactly one in-force version governs a (process, node, segment) at any instant" is an exclusion
constraint. The embedded Postgres ships no contrib (no btree_gist), so the text equality cannot be a
GiST `=`; instead the subject is folded into a one-point int8range of its 64-bit hash and ranges are
compared with `&&`, which core GiST supports. Equal subjects always conflict; distinct subjects share
a hash with probability ~2^-64 per pair (the application checks the exact subject first and reports the
conflicting version by id).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "commitment_0002"
down_revision: str | None = "commitment_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECT_RANGE = (
    "int8range(hashtextextended(process_key || chr(31) || coalesce(node_key, '') || chr(31) || segment_key, 0),"
    " hashtextextended(process_key || chr(31) || coalesce(node_key, '') || chr(31) || segment_key, 0), '[]')"
)

UPGRADE = [
    """
    CREATE TABLE segments (
        key text PRIMARY KEY,
        name text NOT NULL,
        builtin boolean NOT NULL DEFAULT false,
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "INSERT INTO segments (key, name, builtin) VALUES ('default', 'Default (every customer)', true)",
    """
    CREATE TABLE departments (
        key text PRIMARY KEY,
        name text NOT NULL,
        parent_key text REFERENCES departments (key) ON DELETE RESTRICT,
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT departments_not_own_parent CHECK (parent_key IS NULL OR parent_key <> key)
    )
    """,
    """
    CREATE TABLE positions (
        department_key text NOT NULL REFERENCES departments (key) ON DELETE CASCADE,
        key text NOT NULL,
        name text NOT NULL,
        ordinal integer NOT NULL DEFAULT 0,
        PRIMARY KEY (department_key, key)
    )
    """,
    """
    CREATE TABLE calendars (
        key text PRIMARY KEY,
        name text NOT NULL,
        timezone text NOT NULL,
        weekly jsonb NOT NULL,
        extra_day_windows jsonb,
        builtin boolean NOT NULL DEFAULT false,
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    INSERT INTO calendars (key, name, timezone, weekly, builtin) VALUES (
        '24x7', 'Around the clock (every hour counts)', 'UTC',
        '{"0": [["00:00", "24:00"]], "1": [["00:00", "24:00"]], "2": [["00:00", "24:00"]],
          "3": [["00:00", "24:00"]], "4": [["00:00", "24:00"]], "5": [["00:00", "24:00"]],
          "6": [["00:00", "24:00"]]}'::jsonb,
        true)
    """,
    """
    CREATE TABLE calendar_days (
        calendar_key text NOT NULL REFERENCES calendars (key) ON DELETE CASCADE,
        day date NOT NULL,
        kind text NOT NULL CHECK (kind IN ('holiday', 'working')),
        label text,
        PRIMARY KEY (calendar_key, day)
    )
    """,
    """
    CREATE TABLE processes (
        key text PRIMARY KEY,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        owner_department text REFERENCES departments (key) ON DELETE RESTRICT,
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE process_nodes (
        process_key text NOT NULL REFERENCES processes (key) ON DELETE CASCADE,
        key text NOT NULL,
        name text NOT NULL,
        position integer NOT NULL CHECK (position >= 1),
        department text REFERENCES departments (key) ON DELETE RESTRICT,
        position_key text,
        PRIMARY KEY (process_key, key),
        CONSTRAINT process_nodes_position_unique UNIQUE (process_key, position) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT process_nodes_position_fk FOREIGN KEY (department, position_key)
            REFERENCES positions (department_key, key) ON DELETE RESTRICT
    )
    """,
    f"""
    CREATE TABLE commitment_versions (
        id uuid PRIMARY KEY,
        commitment_key text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        name text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        process_key text NOT NULL REFERENCES processes (key) ON DELETE RESTRICT,
        node_key text,
        segment_key text NOT NULL REFERENCES segments (key) ON DELETE RESTRICT,
        limit_unit text NOT NULL CHECK (limit_unit IN ('duration', 'business_days')),
        commitment_limit interval NOT NULL,
        tolerance_limit interval NOT NULL,
        calendar_key text NOT NULL REFERENCES calendars (key) ON DELETE RESTRICT,
        allowed_pause_reasons text[] NOT NULL DEFAULT '{{}}',
        owner_department text REFERENCES departments (key) ON DELETE RESTRICT,
        owner_position text,
        prewarning_fraction double precision NOT NULL DEFAULT 0.8,
        status text NOT NULL CHECK (status IN ('draft', 'negotiating', 'active', 'retired')),
        effective_from timestamptz,
        effective_to timestamptz,
        status_history jsonb NOT NULL DEFAULT '[]'::jsonb,
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT commitment_versions_key_version UNIQUE (commitment_key, version),
        CONSTRAINT commitment_versions_limit_positive CHECK (commitment_limit > interval '0'),
        CONSTRAINT commitment_versions_tolerance_ge_commitment CHECK (tolerance_limit >= commitment_limit),
        CONSTRAINT commitment_versions_prewarning_range CHECK (prewarning_fraction > 0 AND prewarning_fraction < 1),
        CONSTRAINT commitment_versions_range_order
            CHECK (effective_to IS NULL OR effective_from IS NULL OR effective_to > effective_from),
        CONSTRAINT commitment_versions_in_force_has_start
            CHECK (status NOT IN ('active', 'retired') OR effective_from IS NOT NULL),
        CONSTRAINT commitment_versions_node_fk FOREIGN KEY (process_key, node_key)
            REFERENCES process_nodes (process_key, key) ON DELETE RESTRICT,
        CONSTRAINT commitment_versions_owner_position_fk FOREIGN KEY (owner_department, owner_position)
            REFERENCES positions (department_key, key) ON DELETE RESTRICT,
        CONSTRAINT commitment_versions_one_governs EXCLUDE USING gist (
            ({SUBJECT_RANGE}) WITH &&,
            tstzrange(effective_from, effective_to) WITH &&
        ) WHERE (status IN ('active', 'retired'))
    )
    """,
    "CREATE UNIQUE INDEX commitment_versions_one_open_draft ON commitment_versions (commitment_key)"
    " WHERE status IN ('draft', 'negotiating')",
    "CREATE INDEX commitment_versions_subject ON commitment_versions (process_key, node_key, segment_key, status)",
    "CREATE INDEX commitment_versions_calendar ON commitment_versions (calendar_key)",
    """
    CREATE TABLE agreements (
        id uuid PRIMARY KEY,
        key text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        kind text NOT NULL CHECK (kind IN ('sla', 'ola')),
        title text NOT NULL,
        provider text NOT NULL,
        customer text NOT NULL,
        scope jsonb NOT NULL,
        covers jsonb NOT NULL,
        exemptions jsonb NOT NULL,
        penalties jsonb NOT NULL,
        glossary jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('draft', 'negotiating', 'signed', 'terminated')),
        history jsonb NOT NULL DEFAULT '[]'::jsonb,
        signed_at timestamptz,
        terminated_at timestamptz,
        row_version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT agreements_key_version UNIQUE (key, version)
    )
    """,
    "CREATE UNIQUE INDEX agreements_one_open_draft ON agreements (key) WHERE status IN ('draft', 'negotiating')",
    "CREATE UNIQUE INDEX agreements_one_signed ON agreements (key) WHERE status = 'signed'",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "agreements",
        "commitment_versions",
        "process_nodes",
        "processes",
        "calendar_days",
        "calendars",
        "positions",
        "departments",
        "segments",
    ):
        op.execute(f"DROP TABLE {table}")
