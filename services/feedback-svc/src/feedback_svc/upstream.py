"""The upstream clients as request dependencies, and checks that ask them."""

import time
from typing import Annotated

from fastapi import Depends, Request
from pledge_common.problems import invalid

from feedback_svc.clients import EvaluationClient, TrackingClient

_KNOWN_PROCESS_TTL = 300.0
_known_processes: dict[str, float] = {}


def _tracking(request: Request) -> TrackingClient:
    client: TrackingClient = request.app.state.tracking
    return client


def _evaluation(request: Request) -> EvaluationClient:
    client: EvaluationClient = request.app.state.evaluation
    return client


TrackingDep = Annotated[TrackingClient, Depends(_tracking)]
EvaluationDep = Annotated[EvaluationClient, Depends(_evaluation)]


async def require_known_process(tracking: TrackingClient, process_key: str, field: str = "process") -> None:
    """422 naming `field` when tracking does not know the process; known keys are cached a while."""
    now = time.monotonic()
    if _known_processes.get(process_key, 0.0) > now:
        return
    if not await tracking.process_exists(process_key):
        raise invalid(field, f"unknown process {process_key!r}")
    _known_processes[process_key] = now + _KNOWN_PROCESS_TTL


async def require_known_node(tracking: TrackingClient, process_key: str, node_key: str, field: str = "node") -> None:
    """422 naming `process` when tracking does not know the process, `field` when the process has no such node."""
    nodes = await tracking.process_nodes(process_key)
    if nodes is None:
        raise invalid("process", f"unknown process {process_key!r}")
    if node_key not in nodes:
        raise invalid(field, f"process {process_key!r} has no node {node_key!r}")
