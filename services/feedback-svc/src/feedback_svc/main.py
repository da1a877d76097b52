"""feedback-svc: The customer's side: feedback, SERVQUAL surveys, complaints, corrective actions."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from pledge_common.app import create_service_app
from pledge_common.internal import make_http_client
from pledge_common.workers import Workers

from feedback_svc.actions.router import router as actions_router
from feedback_svc.clients import EvaluationClient, TrackingClient
from feedback_svc.complaints import intake
from feedback_svc.complaints.internal import internal as complaints_internal
from feedback_svc.complaints.router import router as complaints_router
from feedback_svc.complaints.sender import TrackingCommandSender
from feedback_svc.config import Settings
from feedback_svc.customers.router import events_router as customer_events_router
from feedback_svc.customers.router import router as customers_router
from feedback_svc.examples import EXAMPLES
from feedback_svc.feedback.router import router as feedback_router
from feedback_svc.practices.router import router as practices_router
from feedback_svc.replies.router import router as replies_router
from feedback_svc.risks.router import router as risks_router
from feedback_svc.surveys.router import router as surveys_router

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _upstream_http(base_url: str, settings: Settings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    if transport is not None:
        return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=settings.upstream_timeout)
    return make_http_client(base_url, timeout=settings.upstream_timeout, token=settings.service_token)


def create_app(settings: Settings | None = None, upstream_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app; `upstream_transport` replaces the network to tracking/evaluation (tests only)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracking = TrackingClient(
            _upstream_http(settings.tracking_url, settings, upstream_transport), settings.service_token
        )
        evaluation = EvaluationClient(
            _upstream_http(settings.evaluation_url, settings, upstream_transport), settings.service_token
        )
        app.state.tracking = tracking
        app.state.evaluation = evaluation
        sender = TrackingCommandSender(app.state.sessionmaker, tracking, settings)
        app.state.tracking_sender = sender
        workers: Workers = app.state.workers
        if settings.run_ticket_consumer:
            intake.ticket_consumer(app, settings).register(workers)
        if settings.run_sender:
            workers.add_polling(
                "tracking-sender", sender.round, interval=settings.sender_interval, kind="sender", wakeup=sender.wakeup
            )
        try:
            yield  # the app starts the workers now, and stops them before what follows
        finally:
            await tracking.aclose()
            await evaluation.aclose()

    return create_service_app(
        service="feedback",
        title="Pledge feedback-svc",
        description="The customer's side: feedback, SERVQUAL surveys, complaints, corrective actions.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        public_routers=[
            feedback_router,
            surveys_router,
            complaints_router,
            actions_router,
            practices_router,
            risks_router,
            customer_events_router,
            customers_router,
            replies_router,
        ],
        internal_routers=[complaints_internal],
        extra_lifespan=lifespan,
        examples=EXAMPLES,
    )
