"""Alembic env for tracking-svc: schema `tracking`, version table inside it."""

from pledge_common.migrations import run_migrations

run_migrations(schema="tracking", target_metadata=None, url_env="TRACKING_DATABASE_URL")
