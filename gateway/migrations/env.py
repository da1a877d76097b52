"""Alembic env for the gateway: schema `gateway`, version table inside it."""

from pledge_common.migrations import run_migrations

run_migrations(schema="gateway", target_metadata=None, url_env="GATEWAY_DATABASE_URL")
