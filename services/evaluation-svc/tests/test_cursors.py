"""The cursor-paginated lists (alerts, a subscription's deliveries, the runs behind a report cell) use the shared
cursor codec: walking the pages returns every item exactly once, and anything that is not a cursor the list gave
out is a 422 problem naming `query.cursor`, never a 500 from the database."""

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.readmodel.service import Projection
from pledge_common.pagination import encode_cursor
from sqlalchemy.ext.asyncio import AsyncSession

PROBLEM = "application/problem+json"
RUNS = 5  # each raises a prewarning and an acceptable alert by Tue 17:30 → 10 alerts, 10 deliveries
AS_OF = at("2026-03-03 17:30")

GARBAGE = [
    "abc",
    "@@@",
    "a\x00b",
    encode_cursor("\x00"),
    encode_cursor("a\x00", str(uuid.uuid4())),
    encode_cursor(datetime.now(UTC), "not-a-uuid"),
    encode_cursor(datetime.now(UTC), str(uuid.uuid4()), 3),  # one value too many
    encode_cursor(),  # none at all
    base64.urlsafe_b64encode(f"{datetime.now(UTC).isoformat()}|{uuid.uuid4()}".encode()).decode(),  # the old format
]


async def seed(session: AsyncSession, client: httpx.AsyncClient) -> str:
    """Runs, a subscription matching every alert, then the alerts (so each queues a delivery); the subscription id."""
    created = await client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert created.status_code == 201, created.text
    projection = Projection()
    await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    await projection.handle_tracking(session, [node_run(f"c{i}", started=at("2026-03-03 10:00")) for i in range(RUNS)])
    await scan_once(session, AS_OF, 100, late_after=timedelta(days=1))  # the prewarning (15:48) is not late
    return str(created.json()["id"])


def lists(subscription_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """name → (path, fixed query parameters) of each cursor-paginated list."""
    return {
        "alerts": ("/v1/alerts", {}),
        "deliveries": (f"/v1/webhooks/{subscription_id}/deliveries", {}),
        "runs": ("/v1/reports/status/runs", {"as_of": AS_OF.isoformat()}),
    }


async def walk(client: httpx.AsyncClient, path: str, params: dict[str, Any], limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        response = await client.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= limit
        seen += [str(item["id"]) for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize("name", ["alerts", "deliveries", "runs"])
@pytest.mark.parametrize("limit", [1, 3, 100])
async def test_paging_returns_every_item_exactly_once(
    session: AsyncSession, client: httpx.AsyncClient, name: str, limit: int
) -> None:
    path, params = lists(await seed(session, client))[name]
    everything = await walk(client, path, params, 500)
    assert len(everything) == (RUNS if name == "runs" else 2 * RUNS)
    paged = await walk(client, path, params, limit)
    assert paged == everything  # same order, no item twice, none skipped (ties on the timestamp included)


@pytest.mark.parametrize("name", ["alerts", "deliveries", "runs"])
@pytest.mark.parametrize("cursor", GARBAGE)
async def test_a_foreign_cursor_is_a_422_problem_naming_the_parameter(
    session: AsyncSession, client: httpx.AsyncClient, name: str, cursor: str
) -> None:
    path, params = lists(await seed(session, client))[name]
    response = await client.get(path, params={**params, "cursor": cursor})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["field"] == "query.cursor"


async def test_a_cursor_from_one_list_is_refused_by_another(session: AsyncSession, client: httpx.AsyncClient) -> None:
    """A runs cursor carries one value, an alerts cursor two: neither list takes the other's."""
    found = lists(await seed(session, client))
    runs_path, runs_params = found["runs"]
    runs_next = (await client.get(runs_path, params={**runs_params, "limit": 1})).json()["next_cursor"]
    alerts_next = (await client.get("/v1/alerts", params={"limit": 1})).json()["next_cursor"]
    refused = await client.get("/v1/alerts", params={"cursor": runs_next})
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "query.cursor")
    refused = await client.get(runs_path, params={**runs_params, "cursor": alerts_next})
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "query.cursor")
