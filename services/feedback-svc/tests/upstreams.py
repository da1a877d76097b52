"""Stand-ins for tracking-svc and evaluation-svc at feedback-svc's edge (an httpx.MockTransport).

They answer the routes feedback-svc's clients call, in the shapes those services publish, and record
what they were sent. Only the network edge is replaced: feedback-svc's own code and Postgres are real.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TRACKING_PORT = 8002
EVALUATION_PORT = 8003


@dataclass
class FakeTracking:
    processes: set[str] = field(default_factory=set)
    nodes: dict[str, list[str]] = field(default_factory=dict)  # process key -> its node keys, in order
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    seen_event_ids: set[str] = field(default_factory=set)
    extra_ticket_counts: dict[str, int] = field(default_factory=dict)
    down: bool = False
    reject_with: int | None = None

    def add_ticket(
        self,
        ticket_id: str,
        process_key: str,
        *,
        segment: str | None = None,
        customer_ref: str | None = None,
        nodes: list[tuple[str, str | None]] = (),  # type: ignore[assignment]
        source: str = "crm",
    ) -> None:
        self.processes.add(process_key)
        self.tickets[ticket_id] = {
            "id": ticket_id,
            "source": source,
            "external_id": f"ext-{ticket_id}",
            "process": process_key,
            "segment": segment,
            "customer": customer_ref,
            "status": "closed",
            "node_runs": [{"node": key, "department": dept, "status": "completed", "cycle": 1} for key, dept in nodes],
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("tracking-svc is down", request=request)
        path = request.url.path
        if request.method == "POST" and path == "/v1/events":
            if self.reject_with is not None:
                return _problem(self.reject_with, "rejected by the test")
            event = json.loads(request.content)
            duplicate = event["event_id"] in self.seen_event_ids
            if not duplicate:
                self.seen_event_ids.add(event["event_id"])
                self.events.append(event)
            ticket_id = f"t-{event['ticket']['external_id']}"
            answer = {
                "event_id": event["event_id"],
                "source": event["source"],
                "status": "duplicate" if duplicate else "accepted",
                "ticket_id": ticket_id,
                "received_at": "2026-03-03T02:00:00+00:00",
            }
            return httpx.Response(200 if duplicate else 201, json=answer)
        if request.method == "GET" and path == "/v1/tickets":
            process = request.url.params.get("process")
            items = [t for t in self.tickets.values() if process is None or t["process"] == process]
            items += [
                {"id": f"bulk-{i}", "process": process} for i in range(self.extra_ticket_counts.get(process or "", 0))
            ]
            if not items and process in self.processes:
                items = [{"id": "some-ticket", "process": process}]  # `processes`: known, with tickets
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if request.method == "GET" and path == "/v1/tickets/count":
            process, source = request.url.params.get("process"), request.url.params.get("source")
            count = sum(
                1
                for t in self.tickets.values()
                if (process is None or t["process"] == process) and (source is None or t["source"] == source)
            )
            extra = self.extra_ticket_counts.get(process or "", 0) if source is None else 0
            return httpx.Response(200, json={"count": count + extra})
        if request.method == "GET" and path.startswith("/v1/known-processes/"):
            key = path.removeprefix("/v1/known-processes/")
            if key not in self.processes:
                return _problem(404, f"tracking-svc knows no process {key}")
            nodes = [
                {"key": n, "name": n, "position": i + 1, "department": None, "position_key": None}
                for i, n in enumerate(self.nodes.get(key, ()))
            ]
            return httpx.Response(200, json={"key": key, "name": key, "nodes": nodes})
        if request.method == "GET" and path.startswith("/v1/tickets/"):
            ticket = self.tickets.get(path.removeprefix("/v1/tickets/"))
            return httpx.Response(200, json=ticket) if ticket else _problem(404, "no such ticket")
        return _problem(404, f"no route {path}")


@dataclass
class FakeEvaluation:
    judgments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    achievements: list[tuple[Callable[[dict[str, str]], bool], dict[str, Any]]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    down: bool = False
    runs: list[dict[str, Any]] = field(default_factory=list)  # the status table's runs, read by state
    page_size: int = 2  # small, so that readers follow the cursor

    def run_in(self, customer: str | None, state: str, kind: str = "node") -> None:
        """A run of `/v1/reports/status/runs` in `state` (every period asked contains it)."""
        n = len(self.runs)
        self.runs.append({"id": f"run-{n}", "kind": kind, "ticket_id": f"t-{n}", "customer": customer, "state": state})

    def judge(self, ticket_id: str, node_key: str, state: str, counted: str, cycle: int = 1) -> None:
        """A node run of the ticket in evaluation-svc's `/v1/reports/status/runs` shape (the fields read)."""
        self.judgments.setdefault(ticket_id, []).append(
            {
                "id": f"run-{ticket_id}-{node_key}-{cycle}",
                "kind": "node",
                "ticket_id": ticket_id,
                "process": "p",
                "node": node_key,
                "cycle": cycle,
                "department": None,
                "status": "completed" if state.startswith("completed") else "in_progress",
                "counted": counted,
                "state": state,
            }
        )

    @staticmethod
    def achievement(judged: int, normal: int, acceptable: int, warning: int) -> dict[str, Any]:
        """An `/v1/reports/achievement` answer with one overall group."""

        def rate(count: int) -> dict[str, Any]:
            return {"count": count, "share": count / judged if judged else None, "interval": None}

        group = {
            "runs": judged,
            "judged": judged,
            "normal": rate(normal),
            "acceptable": rate(acceptable),
            "warning": rate(warning),
        }
        return {"groups": [group], "overall": [group]}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("evaluation-svc is down", request=request)
        self.requests.append(request)
        path, params = request.url.path, dict(request.url.params)
        if path == "/v1/reports/status/runs" and "ticket_id" in params:
            return httpx.Response(200, json={"items": self.judgments.get(params["ticket_id"], []), "next_cursor": None})
        if path == "/v1/reports/status/runs" and "state" in params:
            found = [r for r in self.runs if r["state"] == params["state"]]
            if params.get("scope") == "node":
                found = [r for r in found if r["kind"] == "node"]
            start = int(params.get("cursor", "0"))
            end = start + min(int(params.get("limit", "50")), self.page_size)
            more = end < len(found)
            return httpx.Response(200, json={"items": found[start:end], "next_cursor": str(end) if more else None})
        if path == "/v1/reports/achievement":
            for match, body in self.achievements:
                if match(params):
                    return httpx.Response(200, json=body)
            return httpx.Response(200, json=self.achievement(0, 0, 0, 0))
        return _problem(404, f"no route {path}")


@dataclass
class Upstreams:
    tracking: FakeTracking = field(default_factory=FakeTracking)
    evaluation: FakeEvaluation = field(default_factory=FakeEvaluation)

    def reset(self) -> None:
        self.tracking = FakeTracking()
        self.evaluation = FakeEvaluation()

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == TRACKING_PORT:
            return self.tracking.handle(request)
        if request.url.port == EVALUATION_PORT:
            return self.evaluation.handle(request)
        raise httpx.ConnectError(f"no upstream at {request.url}", request=request)


def _problem(status: int, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "about:blank", "title": "error", "status": status, "detail": detail},
        headers={"content-type": "application/problem+json"},
    )
