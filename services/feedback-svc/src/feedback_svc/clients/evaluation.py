"""evaluation-svc as feedback-svc sees it: per-ticket node-run judgments and achievement figures."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedback_svc.clients.base import UpstreamClient
from feedback_svc.durations import parse_seconds


@dataclass(frozen=True, slots=True)
class NodeJudgment:
    """One node run of a ticket as evaluation-svc judged it (state is one of the seven)."""

    ticket_id: str
    node_key: str
    cycle: int
    state: str
    counted_seconds: float | None
    commitment_seconds: float | None
    tolerance_seconds: float | None
    department: str | None

    @property
    def final(self) -> bool:
        return self.state.startswith("completed") or self.state == "cancelled"


@dataclass(frozen=True, slots=True)
class Achievement:
    runs: int
    normal: int
    acceptable: int
    warning: int
    rate: float | None


class EvaluationClient(UpstreamClient):
    upstream = "evaluation-svc"

    async def ticket_judgments(self, ticket_id: str) -> list[NodeJudgment]:
        """Every node run of one ticket with its state as of now (empty when evaluation has none)."""
        response = await self._request("GET", "/v1/reports/status", params={"ticket_id": ticket_id})
        if response.status_code == 404:
            return []
        body = self._json_or_reject(response)
        rows = body.get("items", body.get("runs")) if isinstance(body, dict) else body
        return [_judgment(ticket_id, row) for row in rows or []]

    async def achievement(self, process_key: str, node_key: str | None, start: datetime, end: datetime) -> Achievement:
        """Achievement of a process (or one node) over [start, end)."""
        params: dict[str, str] = {"process": process_key, "from": start.isoformat(), "to": end.isoformat()}
        if node_key:
            params["node"] = node_key
        body = self._json_or_reject(await self._request("GET", "/v1/reports/achievement", params=params))
        return _achievement(body)


def _judgment(ticket_id: str, row: dict[str, Any]) -> NodeJudgment:
    return NodeJudgment(
        ticket_id=str(row.get("ticket_id", ticket_id)),
        node_key=str(row["node_key"]),
        cycle=int(row.get("cycle") or 1),
        state=str(row["state"]),
        counted_seconds=parse_seconds(row.get("counted")),
        commitment_seconds=parse_seconds(row.get("commitment_limit")),
        tolerance_seconds=parse_seconds(row.get("tolerance_limit")),
        department=row.get("department"),
    )


def _achievement(body: Any) -> Achievement:
    totals = body.get("totals", body) if isinstance(body, dict) else {}
    normal = int(totals.get("normal", 0))
    acceptable = int(totals.get("acceptable", 0))
    warning = int(totals.get("warning", 0))
    runs = int(totals.get("runs", normal + acceptable + warning))
    rate = totals.get("achievement_rate", normal / runs if runs else None)
    return Achievement(runs=runs, normal=normal, acceptable=acceptable, warning=warning, rate=rate)
