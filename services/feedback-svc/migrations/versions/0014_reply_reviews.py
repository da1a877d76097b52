"""reply reviews: a quality reviewer's verdict on a reply given to a customer (reply accuracy)

Revision ID: feedback_0014
Revises: feedback_0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0014"
down_revision: str | None = "feedback_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
    CREATE TABLE reply_reviews (
        id uuid PRIMARY KEY,
        source text NOT NULL,
        reply_ref text NOT NULL,
        complaint_id uuid REFERENCES complaints (id),
        inquiry_ref text,
        department text NOT NULL,
        process_key text,
        category text NOT NULL,
        replied_at timestamptz NOT NULL,
        accurate boolean NOT NULL,
        reviewer text NOT NULL,
        reason text,
        reviewed_at timestamptz NOT NULL,
        recorded_by text NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (source, reply_ref),
        CHECK ((complaint_id IS NULL) <> (inquiry_ref IS NULL)),
        CHECK (accurate OR reason IS NOT NULL),
        CHECK (reviewed_at >= replied_at)
    )
    """,
    "CREATE INDEX reply_reviews_replied_at ON reply_reviews (replied_at, id)",
    "CREATE INDEX reply_reviews_complaint ON reply_reviews (complaint_id) WHERE complaint_id IS NOT NULL",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE reply_reviews")
