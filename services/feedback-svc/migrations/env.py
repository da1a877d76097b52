"""Alembic env for feedback-svc: schema `feedback`, version table inside it."""

from pledge_common.migrations import run_migrations

run_migrations(schema="feedback", target_metadata=None, url_env="FEEDBACK_DATABASE_URL")
