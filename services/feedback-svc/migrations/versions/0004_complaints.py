"""complaints with first-receiver ownership, transition history, and the outbox of tracking commands

Revision ID: feedback_0004
Revises: feedback_0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0004"
down_revision: str | None = "feedback_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE complaints (
            id uuid PRIMARY KEY,
            channel text NOT NULL,
            customer_ref text NOT NULL,
            ticket_id text,
            process_key text,
            category text NOT NULL,
            severity text NOT NULL CHECK (severity IN ('simple', 'general', 'major')),
            description text NOT NULL,
            status text NOT NULL CHECK (
                status IN ('received', 'acknowledged', 'investigating', 'resolved', 'closed', 'reopened')
            ),
            received_at timestamptz NOT NULL,
            received_by_department text NOT NULL,
            received_by_person text,
            owner_department text NOT NULL,
            owner_person text,
            resolution text,
            root_cause text,
            acknowledged_at timestamptz,
            resolved_at timestamptz,
            closed_at timestamptz,
            customer_confirmed boolean,
            customer_confirmation_note text,
            repeat_of uuid REFERENCES complaints (id),
            tracking_ticket_id text,
            transfers integer NOT NULL DEFAULT 0,
            reopens integer NOT NULL DEFAULT 0,
            investigated boolean NOT NULL DEFAULT false,
            transition_count integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX complaints_customer_category ON complaints (customer_ref, category, received_at)")
    op.execute("CREATE INDEX complaints_received ON complaints (received_at)")
    op.execute("CREATE INDEX complaints_status ON complaints (status)")
    op.execute("CREATE INDEX complaints_repeat_of ON complaints (repeat_of) WHERE repeat_of IS NOT NULL")
    op.execute(
        """
        CREATE TABLE complaint_transitions (
            complaint_id uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
            seq integer NOT NULL,
            from_status text,
            to_status text NOT NULL,
            at timestamptz NOT NULL,
            by text NOT NULL,
            reason text,
            PRIMARY KEY (complaint_id, seq)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE complaint_owners (
            complaint_id uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
            seq integer NOT NULL,
            department text NOT NULL,
            person text,
            since timestamptz NOT NULL,
            until timestamptz,
            assigned_by text NOT NULL,
            reason text,
            PRIMARY KEY (complaint_id, seq)
        )
        """
    )
    # The transactional outbox of *commands* to tracking-svc: written with the complaint change,
    # delivered by the sender loop in order per complaint, each with a deterministic event id.
    op.execute(
        """
        CREATE TABLE tracking_commands (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            complaint_id uuid NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
            event_id text NOT NULL UNIQUE,
            payload jsonb NOT NULL,
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered')),
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_error text,
            created_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX tracking_commands_pending ON tracking_commands (complaint_id, id) WHERE status = 'pending'"
    )
    op.execute("CREATE INDEX tracking_commands_due ON tracking_commands (next_attempt_at) WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("DROP TABLE tracking_commands")
    op.execute("DROP TABLE complaint_owners")
    op.execute("DROP TABLE complaint_transitions")
    op.execute("DROP TABLE complaints")
