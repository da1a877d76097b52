"""Parameters a route does not apply are refused (422 naming them); repeated dimensions combine."""

import httpx
import pytest
from evalfactories import agreement, at, calendar_w, commitment, node_run, process
from evaluation_svc.readmodel.service import Projection
from sqlalchemy.ext.asyncio import AsyncSession

WEEK = {"from": at("2026-03-02 00:00").isoformat(), "to": at("2026-03-09 00:00").isoformat()}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/reports/status", {"groupby": "process"}, "query.groupby"),
        ("/v1/reports/achievement", {**WEEK, "groupby": "process"}, "query.groupby"),
        ("/v1/reports/status/runs", {"group_by": "process"}, "query.group_by"),
        ("/v1/reports/status/runs", {**WEEK, "bucket": "day"}, "query.bucket"),
        ("/v1/reports/agreements/sla-1", {**WEEK, "bucket": "day"}, "query.bucket"),
        ("/v1/reports/agreements/sla-1", {**WEEK, "group_by": "process"}, "query.group_by"),
        ("/v1/reports/agreements/sla-1", {**WEEK, "as_of": WEEK["to"]}, "query.as_of"),
        ("/v1/recommendations", {**WEEK, "group_by": "process"}, "query.group_by"),
        ("/v1/recommendations", {**WEEK, "bucket": "week"}, "query.bucket"),
        ("/v1/reports/rankings", {**WEEK, "group_by": "process"}, "query.group_by"),
        ("/v1/reports/rankings", {"as_of": WEEK["to"]}, "query.as_of"),
        ("/v1/reports/status/runs", {"ticket_id": "crm:WO-1"}, "query.ticket_id.0"),
        ("/v1/reports/status", {"ticket_id": "T1"}, "query.ticket_id.0"),
    ],
)
async def test_a_parameter_the_route_does_not_apply_is_422_naming_it(
    session: AsyncSession, client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    await Projection().handle_commitment(session, [calendar_w(), process(), commitment(), agreement()])
    response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_repeated_group_by_combines_like_a_comma(session: AsyncSession, client: httpx.AsyncClient) -> None:
    projection = Projection()
    await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    await projection.handle_tracking(
        session,
        [
            node_run("v", started=at("2026-03-03 10:00"), segment="vip"),
            node_run("r", started=at("2026-03-03 10:00"), segment="residential"),
        ],
    )
    as_of = ("as_of", at("2026-03-03 12:00").isoformat())
    repeated = await client.get("/v1/reports/status", params=[as_of, ("group_by", "process"), ("group_by", "segment")])
    comma = await client.get("/v1/reports/status", params=[as_of, ("group_by", "process,segment")])
    assert repeated.status_code == comma.status_code == 200
    assert repeated.json()["group_by"] == ["process", "segment"]
    assert repeated.json()["rows"] == comma.json()["rows"]
    assert [r["group"]["segment"] for r in repeated.json()["rows"]] == ["residential", "vip"]
    twice = await client.get("/v1/reports/status", params=[as_of, ("group_by", "process"), ("group_by", "process")])
    assert (twice.status_code, twice.json()["errors"][0]["field"]) == (422, "query.group_by")


async def test_ticket_id_filters_by_tracking_id(session: AsyncSession, client: httpx.AsyncClient) -> None:
    ticket = "0b6f1b8e-3c1d-4b7e-9a51-2f6a3f0c9d11"
    projection = Projection()
    await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    await projection.handle_tracking(
        session,
        [
            node_run("mine", started=at("2026-03-03 10:00"), ticket_id=ticket),
            node_run("other", started=at("2026-03-03 10:00")),
        ],
    )
    params = {"as_of": at("2026-03-03 12:00").isoformat(), "ticket_id": ticket.upper()}
    items = (await client.get("/v1/reports/status/runs", params=params)).json()["items"]
    assert [r["id"] for r in items] == ["mine"]
