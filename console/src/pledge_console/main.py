"""The web console: a small app of its own behind the gateway, reading only the gateway's public API."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from pledge_common.app import create_service_app
from pledge_common.internal import make_http_client
from pledge_common.problems import problem_response
from starlette.middleware import Middleware

from pledge_console.accounts.limiter import SignInLimiter
from pledge_console.clients.gateway import GatewayClient
from pledge_console.config import Settings
from pledge_console.web.analysis import router as analysis_router
from pledge_console.web.notify import router as notify_router
from pledge_console.web.pages import PageError, SignInRequired, render
from pledge_console.web.pages import router as pages_router
from pledge_console.web.review import router as review_router
from pledge_console.web.scorecards import router as scorecards_router
from pledge_console.web.security import SESSION_COOKIE, ConsoleHeadersMiddleware, safe_next

HERE = Path(__file__).resolve().parent
ALEMBIC_INI = HERE.parents[1] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = make_http_client(settings.gateway_url.rstrip("/"), timeout=settings.timeout_seconds)
        app.state.gateway = GatewayClient(http, settings.api_key)
        try:
            yield
        finally:
            await http.aclose()

    app = create_service_app(
        service="console",
        title="Pledge console",
        description="The web console (server-rendered pages over the gateway's public API).",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        produces_feed=False,
        extra_lifespan=lifespan,
    )
    app.openapi_url = None  # pages, not an API: nothing to document
    app.docs_url = app.redoc_url = None
    # every value escaped: autoescape on for every template, whatever its name
    templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True))
    app.state.templates = templates
    app.state.sign_in_limiter = SignInLimiter(settings.sign_in_burst, settings.sign_in_rate)
    app.include_router(pages_router)
    app.include_router(analysis_router)
    app.include_router(review_router)
    app.include_router(scorecards_router)
    app.include_router(notify_router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="static")
    app.user_middleware.append(Middleware(ConsoleHeadersMiddleware))

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: Exception) -> Response:
        if request.url.path.endswith(".json"):
            return Response('{"detail": "sign in first"}', status_code=401, media_type="application/json")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse("/console/sign-in?" + _next(target), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/console", httponly=True, samesite="strict")
        return response

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        if request.url.path.endswith(".json"):
            return problem_response(exc.status, "Error", exc.detail)
        return render(request, "error.html", {"status": exc.status, "detail": exc.detail}, exc.status)

    return app


def _next(target: str) -> str:
    return urlencode({"next": safe_next(target)})
