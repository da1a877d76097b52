"""SERVQUAL survey instruments (the standard 22 items built in), responses, answers, importance

Revision ID: feedback_0003
Revises: feedback_0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "feedback_0003"
down_revision: str | None = "feedback_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Parasuraman, Zeithaml & Berry (1988): 22 items over five dimensions, in the instrument's order.
SERVQUAL_22: list[tuple[str, str, str]] = [
    ("T1", "tangibles", "The organisation has modern-looking equipment."),
    ("T2", "tangibles", "Its physical facilities are visually appealing."),
    ("T3", "tangibles", "Its employees are neat in appearance."),
    ("T4", "tangibles", "Materials associated with the service (forms, statements) are visually appealing."),
    ("R1", "reliability", "When it promises to do something by a certain time, it does so."),
    ("R2", "reliability", "When a customer has a problem, it shows a sincere interest in solving it."),
    ("R3", "reliability", "It performs the service right the first time."),
    ("R4", "reliability", "It provides its services at the time it promises to do so."),
    ("R5", "reliability", "It insists on error-free records."),
    ("RS1", "responsiveness", "Employees tell customers exactly when services will be performed."),
    ("RS2", "responsiveness", "Employees give prompt service to customers."),
    ("RS3", "responsiveness", "Employees are always willing to help customers."),
    ("RS4", "responsiveness", "Employees are never too busy to respond to customers' requests."),
    ("A1", "assurance", "The behaviour of employees instils confidence in customers."),
    ("A2", "assurance", "Customers feel safe in their transactions with the organisation."),
    ("A3", "assurance", "Employees are consistently courteous with customers."),
    ("A4", "assurance", "Employees have the knowledge to answer customers' questions."),
    ("E1", "empathy", "The organisation gives customers individual attention."),
    ("E2", "empathy", "It has operating hours convenient to all its customers."),
    ("E3", "empathy", "Its employees give customers personal attention."),
    ("E4", "empathy", "It has the customers' best interests at heart."),
    ("E5", "empathy", "Its employees understand the specific needs of their customers."),
]
DIMENSIONS = ["tangibles", "reliability", "responsiveness", "assurance", "empathy"]


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE survey_instruments (
            key text PRIMARY KEY,
            name text NOT NULL,
            description text,
            builtin boolean NOT NULL DEFAULT false,
            dimensions text[] NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE survey_items (
            instrument_key text NOT NULL REFERENCES survey_instruments (key) ON DELETE CASCADE,
            item_key text NOT NULL,
            position integer NOT NULL,
            dimension text NOT NULL,
            text text NOT NULL,
            PRIMARY KEY (instrument_key, item_key)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE survey_responses (
            id uuid PRIMARY KEY,
            instrument_key text NOT NULL REFERENCES survey_instruments (key),
            respondent_ref text,
            segment text,
            process_key text,
            responded_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX survey_responses_instrument_at ON survey_responses (instrument_key, responded_at)")
    op.execute(
        """
        CREATE TABLE survey_answers (
            response_id uuid NOT NULL REFERENCES survey_responses (id) ON DELETE CASCADE,
            item_key text NOT NULL,
            dimension text NOT NULL,
            expectation smallint CHECK (expectation BETWEEN 1 AND 7),
            perception smallint CHECK (perception BETWEEN 1 AND 7),
            skipped boolean NOT NULL DEFAULT false,
            PRIMARY KEY (response_id, item_key),
            CONSTRAINT survey_answer_scored_or_skipped CHECK (
                skipped OR (expectation IS NOT NULL AND perception IS NOT NULL)
            )
        )
        """
    )
    op.execute(
        """
        CREATE TABLE survey_importance (
            response_id uuid NOT NULL REFERENCES survey_responses (id) ON DELETE CASCADE,
            dimension text NOT NULL,
            points smallint NOT NULL CHECK (points BETWEEN 0 AND 100),
            PRIMARY KEY (response_id, dimension)
        )
        """
    )
    op.execute(
        sa.text(
            "INSERT INTO survey_instruments (key, name, description, builtin, dimensions) "
            "VALUES ('servqual-22', 'SERVQUAL (22 items)', :description, true, CAST(:dimensions AS text[]))"
        ).bindparams(
            description="The standard SERVQUAL instrument: expectations and perceptions on 22 items, 1-7.",
            dimensions=DIMENSIONS,
        )
    )
    for position, (item_key, dimension, text) in enumerate(SERVQUAL_22, start=1):
        op.execute(
            sa.text(
                "INSERT INTO survey_items (instrument_key, item_key, position, dimension, text) "
                "VALUES ('servqual-22', :item_key, :position, :dimension, :text)"
            ).bindparams(item_key=item_key, position=position, dimension=dimension, text=text)
        )


def downgrade() -> None:
    op.execute("DROP TABLE survey_importance")
    op.execute("DROP TABLE survey_answers")
    op.execute("DROP TABLE survey_responses")
    op.execute("DROP TABLE survey_items")
    op.execute("DROP TABLE survey_instruments")
