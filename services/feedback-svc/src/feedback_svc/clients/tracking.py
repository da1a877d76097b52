"""tracking-svc as feedback-svc sees it: send ticket events, read a ticket, check a process key."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from feedback_svc.clients.base import UpstreamClient


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
        response = await self._request("GET", f"/v1/tickets/{quote(ticket_id, safe='')}")
        if response.status_code in (404, 422):
            return None
        body = self._json_or_reject(response)
        return _ticket_view(body)

    async def count_tickets(
        self,
        process_key: str,
        opened_from: datetime | None,
        opened_to: datetime | None,
        sources: frozenset[str] | None = None,
    ) -> int | None:
        """Tickets of a process opened in [from, to), counted by tracking (`GET /v1/tickets/count`); with
        `sources`, only those source systems' tickets (one count per source, summed)."""
        if sources is None:
            return await self._count_tickets(process_key, opened_from, opened_to, None)
        total = 0
        for source in sorted(sources):
            count = await self._count_tickets(process_key, opened_from, opened_to, source)
            if count is None:
                return None
            total += count
        return total

    async def _count_tickets(
        self, process_key: str, opened_from: datetime | None, opened_to: datetime | None, source: str | None
    ) -> int | None:
        params: dict[str, str] = {"process": process_key}
        if source is not None:
            params["source"] = source
        if opened_from is not None:
            params["from"] = opened_from.isoformat()
        if opened_to is not None:
            params["to"] = opened_to.isoformat()
        body = self._json_or_reject(await self._request("GET", "/v1/tickets/count", params=params))
        count = body.get("count") if isinstance(body, dict) else None
        return count if isinstance(count, int) else None

    async def process_exists(self, process_key: str) -> bool:
        """Whether tracking knows the process (its copy of commitment-svc's catalogue): events naming it
        are accepted there."""
        response = await self._request("GET", f"/v1/known-processes/{quote(process_key, safe='')}")
        if response.status_code in (404, 422):
            return False
        self._json_or_reject(response)
        return True

    async def process_nodes(self, process_key: str) -> list[str] | None:
        """The node keys of a process tracking knows (its catalogue copy), in order; None for an unknown one."""
        response = await self._request("GET", f"/v1/known-processes/{quote(process_key, safe='')}")
        if response.status_code in (404, 422):
            return None
        body = self._json_or_reject(response)
        nodes = body.get("nodes") if isinstance(body, dict) else None
        return [str(n["key"]) for n in nodes or () if isinstance(n, dict) and n.get("key")]


def _ticket_view(body: Any) -> TicketView:
    ticket = body.get("ticket", body) if isinstance(body, dict) else {}
    runs = ticket.get("node_runs") or body.get("node_runs") or []
    nodes: dict[str, TicketNode] = {}
    for run in runs:
        key = run.get("node")
        if key and key not in nodes:
            nodes[key] = TicketNode(node_key=str(key), department=run.get("department"))
    return TicketView(
        id=str(ticket["id"]),
        process_key=str(ticket["process"]),
        segment=ticket.get("segment"),
        customer_ref=ticket.get("customer"),
        source=ticket.get("source"),
        nodes=list(nodes.values()),
    )
