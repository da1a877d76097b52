"""evaluation-svc as feedback-svc sees it: per-ticket node-run judgments and achievement figures."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pledge_common.durations import parse_duration

from feedback_svc.clients.base import UpstreamClient

PAGE = 500
MAX_PAGES = 20
WARNING_STATES = ("completed_warning", "in_progress_warning")
WARNING_MAX_PAGES = 200  # per state: at most 100 000 warning runs are read for one answer


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


@dataclass(frozen=True, slots=True)
class WarningRuns:
    """The customer of each node run in warning over a period (None: a run without customer)."""

    customers: list[str | None]
    complete: bool  # False: more runs than WARNING_MAX_PAGES pages were in warning; the list is cut


class EvaluationClient(UpstreamClient):
    upstream = "evaluation-svc"

    async def ticket_judgments(self, ticket_id: str) -> list[NodeJudgment]:
        """Every node run of one ticket with its state as of now (empty when evaluation has none)."""
        params: dict[str, str | int] = {"ticket_id": ticket_id, "limit": PAGE}
        judgments: list[NodeJudgment] = []
        for _ in range(MAX_PAGES):
            response = await self._request("GET", "/v1/reports/status/runs", params=params)
            if response.status_code == 404:
                return judgments
            body = self._json_or_reject(response)
            for row in body.get("items") or []:
                # the filter is asked for, and checked here too: only this ticket's node runs count
                if str(row.get("ticket_id")) == ticket_id and row.get("node") and row.get("state"):
                    judgments.append(_judgment(ticket_id, row))
            if not body.get("next_cursor"):
                break
            params["cursor"] = body["next_cursor"]
        return judgments

    async def warning_runs(
        self, start: datetime, end: datetime, *, sources: frozenset[str] | None = None
    ) -> WarningRuns:
        """Node runs active in [start, end) and in warning as of its end (completed or still in progress), read
        from the status table's runs (`GET /v1/reports/status/runs`, one state at a time); of the runs of
        `sources` only when given."""
        customers: list[str | None] = []
        for state in WARNING_STATES:
            params: dict[str, str | int] = {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "scope": "node",
                "state": state,
                "limit": PAGE,
            }
            for _ in range(WARNING_MAX_PAGES):
                response = await self._request("GET", "/v1/reports/status/runs", params=params, sources=sources)
                body = self._json_or_reject(response)
                for row in body.get("items") or []:
                    # asked for, and checked here too: node runs in this state only
                    if row.get("kind") == "node" and row.get("state") == state:
                        customer = row.get("customer")
                        customers.append(None if customer is None else str(customer))
                if not body.get("next_cursor"):
                    break
                params["cursor"] = body["next_cursor"]
            else:
                return WarningRuns(customers, complete=False)
        return WarningRuns(customers, complete=True)

    async def achievement(
        self,
        process_key: str,
        node_key: str | None,
        start: datetime,
        end: datetime,
        *,
        sources: frozenset[str] | None = None,
    ) -> Achievement:
        """Achievement of a process (or one node) over [start, end); of the runs of `sources` only when given
        (evaluation-svc binds its reports to the sources of the identity it is sent)."""
        params: dict[str, str] = {
            "process": process_key,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "scope": "node",
        }
        if node_key:
            params["node"] = node_key
        response = await self._request("GET", "/v1/reports/achievement", params=params, sources=sources)
        body = self._json_or_reject(response)
        return _achievement(body)


def _seconds(value: Any) -> float | None:
    return None if value is None else parse_duration(str(value)).total_seconds()


def _judgment(ticket_id: str, row: dict[str, Any]) -> NodeJudgment:
    return NodeJudgment(
        ticket_id=str(row.get("ticket_id", ticket_id)),
        node_key=str(row["node"]),
        cycle=int(row.get("cycle") or 1),
        state=str(row["state"]),
        counted_seconds=_seconds(row.get("counted")),
        commitment_seconds=_seconds(row.get("commitment_limit")),  # not in evaluation's run shape yet
        tolerance_seconds=_seconds(row.get("tolerance_limit")),
        department=row.get("department"),
    )


def _achievement(body: Any) -> Achievement:
    """The `overall` group of evaluation-svc's achievement report (one: no buckets were asked for)."""
    overall = body.get("overall") if isinstance(body, dict) else None
    if not overall:
        return Achievement(runs=0, normal=0, acceptable=0, warning=0, rate=None)
    group = overall[0]
    return Achievement(
        runs=int(group.get("judged", 0)),
        normal=int(group["normal"]["count"]),
        acceptable=int(group["acceptable"]["count"]),
        warning=int(group["warning"]["count"]),
        rate=group["normal"].get("share"),
    )
