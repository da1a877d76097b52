"""Alembic env helper: every service's migrations live in its own schema, version table included."""

import asyncio
import os

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from pledge_common.settings import to_async_url


def run_migrations(schema: str, target_metadata: MetaData | None, url_env: str) -> None:
    """Called from a service's migrations/env.py. URL from `<PREFIX>_DATABASE_URL`, else DATABASE_URL."""
    config = context.config
    url = (
        config.attributes.get("database_url")
        or os.environ.get(url_env)
        or os.environ.get("DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError(f"set {url_env} or DATABASE_URL to run migrations")

    def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        if type_ == "table":
            return getattr(obj, "schema", None) in (None, schema)
        return True

    def do_run(connection: Connection) -> None:
        # CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database; a role that owns an existing
        # schema (the production setup) must not need that grant
        exists = connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).scalar()
        if not exists:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}", public'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=False,
            include_object=include_object,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(to_async_url(url))
        try:
            async with engine.connect() as conn:
                await conn.run_sync(do_run)
                await conn.commit()
        finally:
            await engine.dispose()

    if context.is_offline_mode():
        raise RuntimeError("offline migrations are not supported; run against a database")
    asyncio.run(run_async())
