"""Helpers for commitment-svc tests (fixtures live in conftest.py)."""

import json
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PROBLEM = "application/problem+json"
W_WEEKLY = {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(5)}
W_CALENDAR = {
    "name": "W (DESIGN.md)",
    "timezone": "Asia/Shanghai",
    "weekly": W_WEEKLY,
    "holidays": ["2026-05-01"],
    "extra_working_days": ["2026-05-09"],
}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, (field, body)
    return body


async def events(session: AsyncSession, type_: str) -> list[dict[str, Any]]:
    rows = await session.execute(text("SELECT key, payload FROM outbox WHERE type = :t ORDER BY seq"), {"t": type_})
    return [{"key": r.key, **r.payload} for r in rows]


def commitment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "repair-dispatch-vip",
        "process": "repair",
        "node": "dispatch",
        "segment": "vip",
        "commitment_limit": "PT6H",
        "tolerance_limit": "PT10H",
        "calendar": "w",
        "allowed_pause_reasons": ["awaiting-customer"],
        "owner_department": "ops",
        "owner_position": "dispatcher",
    }
    body.update(overrides)
    return body


async def active_commitment(
    client: httpx.AsyncClient, effective_from: str = "2026-01-01T00:00:00+08:00", **overrides: Any
) -> dict[str, Any]:
    created = await ok(await client.post("/v1/commitments", json=commitment_body(**overrides)), 201)
    await ok(await client.post(f"/v1/commitments/{created['id']}/transitions", json={"to": "negotiating"}))
    return await ok(  # type: ignore[no-any-return]
        await client.post(
            f"/v1/commitments/{created['id']}/transitions", json={"to": "active", "effective_from": effective_from}
        )
    )


class FakeEvaluation:
    """evaluation-svc's preview of a back-dated version: answers `changing` runs (or `status`), keeps requests."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.changing: list[dict[str, Any]] = []
        self.status = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/internal/v1/rejudgements/preview", request.url
        self.requests.append(json.loads(request.content))
        if self.status != 200:
            return httpx.Response(self.status, json={"title": "unavailable"})
        return httpx.Response(200, json={"runs_changing": len(self.changing), "runs": self.changing})


# one request per kind of commitment (docs/kinds.md "Defining each kind"), about service `portal`
KIND_BODIES: dict[str, dict[str, Any]] = {
    "availability": {
        "key": "portal-uptime",
        "kind": "availability",
        "service": "portal",
        "commitment_limit": "PT4H",
        "tolerance_limit": "PT8H",
        "calendar": "w",
        "objective": {"max_outages": 3, "max_downtime": "PT8H"},
    },
    "count": {
        "key": "portal-concurrency",
        "kind": "count",
        "service": "portal",
        "obligation": "peak-concurrent-users",
        "objective": {"direction": "at_most", "limit": 100, "tolerance": 110, "unit": "users"},
    },
    "frequency": {
        "key": "portal-backup",
        "kind": "frequency",
        "service": "portal",
        "obligation": "db-backup",
        "commitment_limit": "P2D",
        "tolerance_limit": "P3D",
    },
    "clause": {
        "key": "portal-training",
        "kind": "clause",
        "service": "portal",
        "obligation": "staff-training",
        "objective": {"due_at": "2026-12-15T00:00:00+08:00", "tolerance_due_at": "2026-12-22T00:00:00+08:00"},
    },
}


def kind_body(kind: str, **overrides: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(KIND_BODIES[kind]))
    body.update(overrides)
    return body  # type: ignore[no-any-return]


async def portal(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Service `portal` (a configuration item) run by ops for acme-corp."""
    body = {"key": "portal", "name": "Customer portal", "customer_ref": "acme-corp", "owner_department": "ops"}
    return await ok(await client.post("/v1/services", json=body | overrides), 201)  # type: ignore[no-any-return]
