"""Alembic env for evaluation-svc: schema `evaluation`, version table inside it."""

from pledge_common.migrations import run_migrations

run_migrations(schema="evaluation", target_metadata=None, url_env="EVALUATION_DATABASE_URL")
