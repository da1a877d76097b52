"""Alembic env for commitment-svc: schema `commitment`, version table inside it."""

from pledge_common.migrations import run_migrations

run_migrations(schema="commitment", target_metadata=None, url_env="COMMITMENT_DATABASE_URL")
