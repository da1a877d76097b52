"""time-ordered ids for new tickets and node runs (UUIDv7 where the server has it)

Random v4 ids scatter every insert of a bulk load across the whole of the tickets and node_runs primary
keys and the events (ticket_id, ...) index; once those outgrow the buffer cache each insert touches a
cold page. v7 ids of tickets and runs created together sit side by side. Existing ids stay as they are.

Revision ID: tracking_0003
Revises: tracking_0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0003"
down_revision: str | None = "tracking_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set_default(function: str, only_from_version: int = 0) -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF current_setting('server_version_num')::int >= {only_from_version} THEN
                EXECUTE 'ALTER TABLE tickets ALTER COLUMN id SET DEFAULT {function}()';
                EXECUTE 'ALTER TABLE node_runs ALTER COLUMN id SET DEFAULT {function}()';
            END IF;
        END $$
        """
    )


def upgrade() -> None:
    _set_default("uuidv7", only_from_version=180000)  # uuidv7() is built in from PostgreSQL 18


def downgrade() -> None:
    _set_default("gen_random_uuid")
