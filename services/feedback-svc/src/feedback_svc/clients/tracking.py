"""tracking-svc as feedback-svc sees it: send ticket events, read a ticket, check a process key."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedback_svc.clients.base import UpstreamClient

PAGE = 500
MAX_PAGES = 200  # 100 000 tickets per process and period; past that the rate is left out


@dataclass(frozen=True, slots=True)
class TicketNode:
    node_key: str
    department: str | None


@dataclass(frozen=True, slots=True)
class TicketView:
    id: str
    process_key: str
    segment: str | None
    customer_ref: str | None
    source: str | None
    nodes: list[TicketNode] = field(default_factory=list)


class TrackingClient(UpstreamClient):
    upstream = "tracking-svc"

    async def send_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """POST one ticket event; tracking is idempotent by `event_id`, so a redelivery is harmless."""
        response = await self._request("POST", "/v1/events", json=event)
        body = self._json_or_reject(response)
        return body if isinstance(body, dict) else {}

    async def get_ticket(self, ticket_id: str) -> TicketView | None:
        """The ticket, or None when tracking does not know it."""
        response = await self._request("GET", f"/v1/tickets/{ticket_id}")
        if response.status_code in (404, 422):
            return None
        body = self._json_or_reject(response)
        return _ticket_view(body)

    async def count_tickets(
        self, process_key: str, opened_from: datetime | None, opened_to: datetime | None
    ) -> int | None:
        """Tickets of a process opened in [from, to), by paging tracking's list (None past the cap)."""
        params: dict[str, str | int] = {"process": process_key, "limit": PAGE}
        if opened_from is not None:
            params["opened_from"] = opened_from.isoformat()
        if opened_to is not None:
            params["opened_to"] = opened_to.isoformat()
        total = 0
        for _ in range(MAX_PAGES):
            body = self._json_or_reject(await self._request("GET", "/v1/tickets", params=params))
            total += len(body.get("items") or [])
            if not body.get("next"):
                return total
            params["cursor"] = body["next"]
        return None

    async def process_exists(self, process_key: str) -> bool:
        """Whether tracking knows the process: it refuses events of processes commitment-svc does not
        define, so a process with tickets is known. (tracking-svc serves no process route; a process
        without any ticket yet counts as unknown here.)"""
        response = await self._request("GET", "/v1/tickets", params={"process": process_key, "limit": 1})
        if response.status_code == 422:
            return False
        body = self._json_or_reject(response)
        return bool(body.get("items")) if isinstance(body, dict) else False


def _ticket_view(body: Any) -> TicketView:
    ticket = body.get("ticket", body) if isinstance(body, dict) else {}
    runs = ticket.get("node_runs") or body.get("node_runs") or []
    nodes: dict[str, TicketNode] = {}
    for run in runs:
        key = run.get("node_key")
        if key and key not in nodes:
            nodes[key] = TicketNode(node_key=str(key), department=run.get("department"))
    return TicketView(
        id=str(ticket["id"]),
        process_key=str(ticket["process_key"]),
        segment=ticket.get("segment"),
        customer_ref=ticket.get("customer_ref"),
        source=ticket.get("source"),
        nodes=list(nodes.values()),
    )
