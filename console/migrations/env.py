"""Alembic env for the console: schema `console`, version table inside it."""

from pledge_common.migrations import run_migrations

run_migrations(schema="console", target_metadata=None, url_env="CONSOLE_DATABASE_URL")
