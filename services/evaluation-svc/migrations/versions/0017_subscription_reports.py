"""Report subscriptions deliver an agreement's review (PDF or XLSX) and the rankings too

Revision ID: evaluation_0017
Revises: evaluation_0016
Create Date: 2026-12-03

docs/notifications.md.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0017"
down_revision: str | None = "evaluation_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    "ALTER TABLE notify_schedules ADD COLUMN agreement text",
    "ALTER TABLE notify_schedules DROP CONSTRAINT notify_schedules_report_check",
    "ALTER TABLE notify_schedules ADD CONSTRAINT notify_schedules_report_check"
    " CHECK (report IN ('status', 'achievement', 'review', 'rankings'))",
    "ALTER TABLE notify_schedules DROP CONSTRAINT notify_schedules_format_check",
    "ALTER TABLE notify_schedules ADD CONSTRAINT notify_schedules_format_check"
    " CHECK (format IN ('xlsx', 'pdf') AND (format = 'xlsx' OR report = 'review'))",
    # an agreement's review names its agreement; the other reports are a department's and name none
    "ALTER TABLE notify_schedules ADD CONSTRAINT notify_schedules_agreement_check"
    " CHECK ((report = 'review') = (agreement IS NOT NULL))",
)

DOWNGRADE = (
    "DELETE FROM notify_schedules WHERE report IN ('review', 'rankings') OR format <> 'xlsx'",
    "ALTER TABLE notify_schedules DROP CONSTRAINT notify_schedules_agreement_check",
    "ALTER TABLE notify_schedules DROP CONSTRAINT notify_schedules_format_check",
    "ALTER TABLE notify_schedules ADD CONSTRAINT notify_schedules_format_check CHECK (format IN ('xlsx'))",
    "ALTER TABLE notify_schedules DROP CONSTRAINT notify_schedules_report_check",
    "ALTER TABLE notify_schedules ADD CONSTRAINT notify_schedules_report_check"
    " CHECK (report IN ('status', 'achievement'))",
    "ALTER TABLE notify_schedules DROP COLUMN agreement",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
