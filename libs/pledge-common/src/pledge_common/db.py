"""Database plumbing: one async engine per process, pinned to the service's schema."""

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import Depends, FastAPI, Request
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from pledge_common.jsonlimits import bounded_loads
from pledge_common.settings import to_async_url


def create_engine(
    database_url: str, schema: str, *, pool_size: int = 10, app_name: str = "", parallel_workers: int | None = None
) -> AsyncEngine:
    """An engine whose connections see only `schema` (then `public` for extensions), with instants rendered
    in UTC whatever the server's default time zone (SQL that needs a local day says `AT TIME ZONE`).
    `parallel_workers` caps the parallel workers of one query (0: none, for many small statements whose
    plans would otherwise start workers once a table grows large). JSON values are read with `bounded_loads`:
    one stored nested deeper than any answer can carry is still answered (pledge_common.jsonlimits)."""
    server_settings = {"search_path": f"{schema},public", "application_name": app_name or schema, "TimeZone": "UTC"}
    if parallel_workers is not None:
        server_settings["max_parallel_workers_per_gather"] = str(parallel_workers)
    return create_async_engine(
        to_async_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a connection left from before a database restart is replaced, not used
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"server_settings": server_settings, "timeout": CONNECT_TIMEOUT_SECONDS},
        json_deserializer=bounded_loads,
    )


# An unreachable database fails a request within seconds (a 503), instead of holding it for asyncpg's 60 s.
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0
# SQLSTATEs that say the server cannot serve now, not that the statement is wrong: connection exceptions
# (class 08), too many connections (53300), admin or crash shutdown and "the database system is starting up"
# or "shutting down" (57P01..57P03).
UNAVAILABLE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})
DRIVER_MODULES = ("asyncpg", "sqlalchemy")
# asyncpg's own exception for a connection that went away in use (it carries no SQLSTATE)
DRIVER_DISCONNECTS = frozenset({"ConnectionDoesNotExistError"})


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its members (exception groups) and its causes, each once."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if isinstance(current, sa_exc.DBAPIError) and isinstance(current.orig, BaseException):
            pending.append(current.orig)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


def _raised_by_driver(exc: BaseException) -> bool:
    """True when the exception was raised inside the database driver or the pool (an OSError from a route's own
    network call, such as an upstream service's, is not the database's)."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means that the database cannot be reached or cannot serve right now (a 503 that a retry
    fixes), rather than a fault of the request or of the code: refused, reset or timed-out connections, a
    connection lost in use, a pool with no connection left, a server shutting down or starting up."""
    for cause in _causes(exc):
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, sa_exc.TimeoutError):  # no pooled connection within the pool timeout
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and (sqlstate.startswith("08") or sqlstate in UNAVAILABLE_SQLSTATES):
            return True
        if isinstance(cause, OSError) and _raised_by_driver(cause):
            return True
        if type(cause).__module__.startswith("asyncpg") and type(cause).__name__ in DRIVER_DISCONNECTS:
            return True
    return False


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def committing(maker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that commits when the block ends and rolls back when it raises."""
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request-scoped session: commits when the route returns, rolls back when it raises.

    Repositories flush; they never commit. scope="function" (below) makes the commit happen before
    the response is sent, so a client never sees a 2xx for a transaction that then failed.
    """
    async with committing(request.app.state.sessionmaker) as session:
        yield session


def unit_of_work(app: FastAPI) -> AbstractAsyncContextManager[AsyncSession]:
    """A session for work done on behalf of several requests at once (coalesced writes): commits when
    the block ends, rolls back when it raises, like a request's. Where a test replaced the request
    session, this is the replacement too."""
    override = app.dependency_overrides.get(_request_session)
    if override is not None:
        return asynccontextmanager(override)()
    return committing(app.state.sessionmaker)


SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]


@dataclass(frozen=True)
class MigrationTree:
    """What this code knows of its schema's history (read once at startup, not per request)."""

    head: str | None
    known: frozenset[str]

    def is_ready(self, database_revision: str | None) -> bool:
        """At head, or at a revision this code does not know: a newer release has migrated already.

        During a rolling upgrade the new migration commits while old pods still serve; they must stay
        ready (migrations are written to be compatible with the previous release), else a Service could
        briefly have no ready endpoint at all.
        """
        if database_revision is None:
            return False
        return database_revision == self.head or database_revision not in self.known


def migration_tree(alembic_ini: Path) -> MigrationTree:
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    script = ScriptDirectory.from_config(config)
    return MigrationTree(head=script.get_current_head(), known=frozenset(r.revision for r in script.walk_revisions()))


async def migration_state(engine: AsyncEngine, schema: str) -> str | None:
    """The revision recorded in the schema's own alembic_version table (None if absent)."""
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{schema}.alembic_version"})
        if not exists:
            return None
        version = await conn.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version LIMIT 1'))
        return str(version) if version is not None else None
