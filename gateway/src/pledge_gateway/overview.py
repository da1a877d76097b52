"""GET /v1/tickets/{id}/overview: one ticket as every service sees it, in one answer.

The ticket comes from tracking with the caller's identity, so a partner sees only tickets of its own
sources (another source's ticket is a 404). Each other part degrades to a note when its service is
down, slow, or the caller lacks the scope to read it.
"""

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from pledge_common.identity import Caller
from pledge_common.problems import GatewayTimeout, NotFound, Problem, ServiceUnavailable
from pydantic import BaseModel, Field

from pledge_gateway.auth import GatewayCallerDep
from pledge_gateway.routes import Scope

router = APIRouter(tags=["tickets"])
PART_TIMEOUT = 5.0
# the aiohttp transport reports a refused connection as ConnectTimeout: "down", not "slow"
UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TicketOverview(BaseModel):
    ticket: dict[str, Any] = Field(description="the ticket as tracking-svc answers GET /v1/tickets/{id}")
    node_runs: list[dict[str, Any]] | None = Field(description="its node runs (tracking-svc)")
    judgments: list[dict[str, Any]] | None = Field(
        description="seven-state judgment and due instants of each node run (evaluation-svc)"
    )
    feedback: list[dict[str, Any]] | None = Field(description="feedback about the ticket (feedback-svc)")
    complaints: list[dict[str, Any]] | None = Field(description="complaints about the ticket (feedback-svc)")
    notes: list[str] = Field(description="parts that are missing, and why")


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        for key in ("items", "runs", "node_runs"):
            if isinstance(body.get(key), list):
                return list(body[key])
        return []
    return list(body) if isinstance(body, list) else []


async def _part(
    http: httpx.AsyncClient,
    caller: Caller,
    scope: Scope,
    name: str,
    service: str,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
) -> tuple[list[dict[str, Any]] | None, str | None]:
    if not caller.has_scope(scope):
        return None, f"{name} omitted: needs the scope `{scope.value}`"
    try:
        response = await http.get(url, params=params, headers=headers, timeout=PART_TIMEOUT)
    except UNREACHABLE:
        return None, f"{name} unavailable: the {service} service is unavailable"
    except httpx.TimeoutException:
        return None, f"{name} unavailable: the {service} service did not answer in time"
    except httpx.HTTPError:
        return None, f"{name} unavailable: the {service} service is unavailable"
    if response.status_code == 404:
        return [], None
    if response.status_code != 200:
        return None, f"{name} unavailable: the {service} service answered {response.status_code}"
    try:
        return _items(response.json()), None
    except ValueError:
        return None, f"{name} unavailable: the {service} service answered something unreadable"


def _relayed(response: httpx.Response) -> Problem:
    """tracking's own answer to a bad ticket reference (its problems are ours: nothing internal in them)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    errors = body.get("errors") if isinstance(body.get("errors"), list) else None
    detail = body.get("detail") if isinstance(body.get("detail"), str) else None
    title = body.get("title") if isinstance(body.get("title"), str) else "Bad Request"
    return Problem(detail, status=response.status_code, title=title, errors=errors)


@router.get("/v1/tickets/{ticket_id}/overview", response_model=TicketOverview)
async def ticket_overview(ticket_id: str, request: Request, caller: GatewayCallerDep) -> TicketOverview:
    """The ticket with its node runs, their judgments and due instants, its feedback and complaints."""
    gateway = request.app.state.gateway
    headers = gateway.signed_identity(caller)
    urls = gateway.base_urls
    ticket_path = f"/v1/tickets/{quote(ticket_id, safe='')}"
    try:
        response = await gateway.http.get(urls["tracking"] + ticket_path, headers=headers, timeout=PART_TIMEOUT)
    except UNREACHABLE:
        raise ServiceUnavailable("the tracking service is unavailable", service="tracking") from None
    except httpx.TimeoutException:
        raise GatewayTimeout("the tracking service did not answer in time", service="tracking") from None
    except httpx.HTTPError:
        raise ServiceUnavailable("the tracking service is unavailable", service="tracking") from None
    if response.status_code == 404:
        raise NotFound(f"no ticket {ticket_id}")
    if 400 <= response.status_code < 500:
        raise _relayed(response)
    if response.status_code != 200:
        raise ServiceUnavailable(f"the tracking service answered {response.status_code}", service="tracking")
    ticket = response.json()
    # the other services know the ticket by tracking's id, not by the `source:external_id` it may be addressed by
    resolved = ticket.get("id") if isinstance(ticket, dict) else None
    params = {"ticket_id": str(resolved or ticket_id)}
    (judgments, n1), (feedback, n2), (complaints, n3) = await asyncio.gather(
        _part(
            gateway.http, caller, Scope.reports_read, "judgments", "evaluation",
            urls["evaluation"] + "/v1/reports/status/runs", params, headers,
        ),
        _part(
            gateway.http, caller, Scope.feedback_read, "feedback", "feedback",
            urls["feedback"] + "/v1/feedback", params, headers,
        ),
        _part(
            gateway.http, caller, Scope.complaints_read, "complaints", "feedback",
            urls["feedback"] + "/v1/complaints", params, headers,
        ),
    )  # fmt: skip
    node_runs = ticket.get("node_runs") if isinstance(ticket, dict) else None
    notes = [n for n in (n1, n2, n3) if n]
    if not isinstance(node_runs, list):
        node_runs = None
        notes.append("node_runs unavailable: the ticket answer carries none")
    return TicketOverview(
        ticket=ticket if isinstance(ticket, dict) else {"value": ticket},
        node_runs=node_runs,
        judgments=judgments,
        feedback=feedback,
        complaints=complaints,
        notes=notes,
    )
