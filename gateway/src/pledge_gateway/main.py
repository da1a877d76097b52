"""The gateway: the one public entry of Pledge — routing, credentials, scopes, limits, merged OpenAPI."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI
from pledge_common.app import create_service_app
from pledge_common.internal import make_http_client
from pledge_common.queryparams import refuse_undeclared_query
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from pledge_gateway import meta
from pledge_gateway.auth import Authenticator
from pledge_gateway.config import Settings
from pledge_gateway.edge import EdgeMiddleware, Gateway, SecurityHeadersMiddleware, configure_access_log
from pledge_gateway.examples import EXAMPLES
from pledge_gateway.keys.router import router as keys_router
from pledge_gateway.me import router as me_router
from pledge_gateway.overview import router as overview_router
from pledge_gateway.ratelimit import RateLimiter

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
EXPOSED_HEADERS = [
    "X-Request-ID",
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
]


class NoCookies(httpx.Cookies):
    """A cookie jar that stores nothing and sends nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None

    def set_cookie_header(self, request: httpx.Request) -> None:
        return None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_access_log(settings.log_json)
        http = make_http_client()
        http.headers = httpx.Headers()  # pass the client's own Accept/Accept-Encoding, add nothing
        # A proxy must never keep one client's cookies for the next (and parsing them costs ~50 us a call)
        http._cookies = NoCookies()
        limiter = RateLimiter(settings)
        gateway = Gateway(settings, http, Authenticator(settings, app.state.sessionmaker, http), limiter)
        app.state.gateway = gateway
        app.state.openapi = meta.MergedOpenAPI(http, gateway.base_urls, settings.openapi_ttl_seconds)
        try:
            yield
        finally:
            await limiter.aclose()
            await http.aclose()

    app = create_service_app(
        service="gateway",
        title="Pledge gateway",
        description="The one public entry of Pledge.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        produces_feed=False,
        extra_lifespan=lifespan,
        # tracking-svc answers each item of a bulk, and each alert of an Alertmanager payload, on its own
        # (Alertmanager's firing alerts carry `endsAt: 0001-01-01T00:00:00Z`, which the shared check refuses)
        raw_bodies=["/v1/events/bulk", "/v1/service-facts/bulk", "/v1/integrations/alertmanager$"],
        examples=EXAMPLES,
    )
    strict = [Depends(refuse_undeclared_query)]  # the gateway's own routes refuse parameters they do not take
    app.include_router(keys_router, dependencies=strict)
    app.include_router(overview_router, dependencies=strict)
    app.include_router(me_router, dependencies=strict)
    # inside the request-id middleware that create_service_app installed: outermost first
    app.user_middleware.append(Middleware(SecurityHeadersMiddleware, hsts=settings.hsts))
    if settings.cors_origins:
        app.user_middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-API-Key"],
                expose_headers=EXPOSED_HEADERS,
                max_age=600,
            )
        )
    # the edge answers /readyz, /openapi.json and /docs itself: FastAPI's versions know only the gateway
    app.user_middleware.append(Middleware(EdgeMiddleware, meta=meta.router()))
    return app
