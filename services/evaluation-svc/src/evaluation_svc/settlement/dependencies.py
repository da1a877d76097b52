"""What a request needs to settle: the instant, the bounds and the feedback client (shared by the settlement
routes and the agreement review)."""

from datetime import UTC, datetime

from fastapi import Request

from evaluation_svc.config import Settings
from evaluation_svc.settlement import service
from evaluation_svc.settlement.satisfaction import FeedbackClient


def settling(request: Request) -> service.Settling:
    settings: Settings = request.app.state.settings
    feedback: FeedbackClient | None = getattr(request.app.state, "feedback", None)
    return service.Settling(now=datetime.now(UTC), max_runs=settings.replay_max_runs, feedback=feedback)
