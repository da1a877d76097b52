"""The app factory every service uses: problems, request ids, logs, metrics, health, readiness, feed."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.middleware import Middleware

from pledge_common.db import create_engine, create_sessionmaker, migration_state, migration_tree
from pledge_common.identity import current_caller
from pledge_common.internal import internal_router, make_http_client
from pledge_common.observability import Metrics, RequestContextMiddleware, configure_logging
from pledge_common.openapi import install_document, operation_id
from pledge_common.outbox import feed_router
from pledge_common.problems import install_problem_handlers, problem_response
from pledge_common.queryparams import refuse_undeclared_query
from pledge_common.runtime_metrics import install_runtime_metrics, refresh_outbox_stats
from pledge_common.settings import ServiceSettings
from pledge_common.textguard import TextGuardMiddleware
from pledge_common.workers import Workers

Extra = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def own_readiness(state: Any) -> JSONResponse | None:
    """None when this process's database answers, its migrations are ready and its background workers are
    alive (none stalled, none crashing again and again); else a 503 problem."""
    try:
        async with asyncio.timeout(3):
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            current = await migration_state(state.engine, state.schema)
    except Exception as err:  # readiness reports any database failure as "not ready"
        return problem_response(503, "Service Unavailable", f"database unreachable: {type(err).__name__}")
    if not state.migrations.is_ready(current):
        return problem_response(
            503, "Service Unavailable", f"migrations not at head (database {current}, code {state.migrations.head})"
        )
    workers: Workers | None = getattr(state, "workers", None)
    stalled = workers.problems() if workers is not None else []
    if stalled:
        return problem_response(503, "Service Unavailable", "; ".join(stalled), workers=stalled)
    return None


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Any:
        """The database answers, this service's migrations are at head and its background workers are alive."""
        state = request.app.state
        problem = await own_readiness(state)
        if problem is not None:
            return problem
        return {"status": "ready", "service": state.service, "migration": state.migrations.head}

    return router


def create_service_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: ServiceSettings,
    alembic_ini: Path,
    public_routers: Sequence[APIRouter] = (),
    internal_routers: Sequence[APIRouter] = (),
    produces_feed: bool = True,
    extra_lifespan: Extra | None = None,
    raw_bodies: Sequence[str] = (),
    examples: Mapping[str, Any] | None = None,
    webhooks: APIRouter | None = None,
) -> FastAPI:
    """Build a service app. Nothing touches the database until the lifespan starts.

    `raw_bodies`: path prefixes whose routes check their bodies for text Postgres cannot store themselves
    (they answer per item), or exact paths when they end in `$`; every other JSON body, query string and path
    is checked before routing.
    `examples`: a request body example per operationId (the service's examples module).
    `webhooks`: the requests this service sends to partners' URLs, as the OpenAPI `webhooks` section."""
    schema = settings.db_schema or service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level, settings.log_json)
        engine = create_engine(
            settings.database_url,
            schema,
            pool_size=settings.db_pool_size,
            app_name=service,
            parallel_workers=settings.db_parallel_workers,
        )
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.http = make_http_client(token=settings.service_token)
        app.state.workers = service_workers(service, settings)
        try:
            async with contextlib.AsyncExitStack() as stack:
                if extra_lifespan is not None:  # registers the service's workers in app.state.workers
                    await stack.enter_async_context(extra_lifespan(app))
                # started once everything they use is set up; stopped before any of it is torn down
                await stack.enter_async_context(app.state.workers.running())
                yield
        finally:
            await app.state.http.aclose()
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    if webhooks is not None:
        app.webhooks.include_router(webhooks, generate_unique_id_function=operation_id)
    app.state.settings = settings
    app.state.service = service
    app.state.schema = schema
    app.state.migrations = migration_tree(alembic_ini)
    app.state.workers = service_workers(service, settings)
    metrics = Metrics(service)
    app.state.metrics = metrics
    install_problem_handlers(app)
    install_document(app, examples)  # the document says what the handlers answer: problem+json, headers
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.user_middleware.append(Middleware(TextGuardMiddleware, raw_bodies=raw_bodies))  # inside: request ids
    app.include_router(health_router())
    install_runtime_metrics(app, metrics)
    app.add_route("/metrics", _metrics_view(metrics, produces_feed), include_in_schema=False)
    # Every public route knows its caller; with PLEDGE_REQUIRE_IDENTITY a request that did not come
    # through the gateway (no valid signed identity) is refused before any route code runs.
    # ... and a query parameter the route does not declare is refused, not ignored
    for router in public_routers:
        app.include_router(router, dependencies=[Depends(current_caller), Depends(refuse_undeclared_query)])
    internal = internal_router()
    if produces_feed:
        internal.include_router(feed_router())
    for router in internal_routers:
        internal.include_router(router)
    app.include_router(internal)
    return app


def _metrics_view(metrics: Metrics, produces_feed: bool = False) -> Callable[[Request], Any]:
    async def view(request: Request) -> Any:
        if produces_feed:
            await refresh_outbox_stats(request.app)
        return metrics.render()

    return view


def service_workers(service: str, settings: ServiceSettings) -> Workers:
    return Workers(
        service,
        stall_after=settings.worker_stall_seconds,
        max_failures=settings.worker_max_failures,
        backoff=settings.worker_backoff_seconds,
        backoff_max=settings.worker_backoff_max_seconds,
    )


def not_ready(detail: str) -> JSONResponse:
    return problem_response(503, "Service Unavailable", detail)
