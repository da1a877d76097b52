"""One typed client per upstream service (tracking, evaluation); nothing else here talks HTTP."""

from feedback_svc.clients.base import UpstreamRejected, UpstreamUnavailable
from feedback_svc.clients.evaluation import EvaluationClient
from feedback_svc.clients.tracking import TrackingClient

__all__ = ["EvaluationClient", "TrackingClient", "UpstreamRejected", "UpstreamUnavailable"]
