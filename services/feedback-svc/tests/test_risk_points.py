"""Risk points (服务协同风险点): placed on a process, node or department, with controls, owner, KPIs, alerts."""

from typing import Any

import httpx
import pytest
from upstreams import Upstreams


def risk_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "抢修工单转派不及时",
        "level": "high",
        "process": "fault-repair",
        "node": "dispatch",
        "controls": [{"description": "dispatcher checks the unassigned queue", "frequency": "every 15 minutes"}],
        "owner": {"department": "ops", "person": "zhou"},
        "kpis": ["work_order_on_time_rate"],
        "alerts": ["fault-repair-dispatch-burn"],
    }
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def repair(upstreams: Upstreams) -> None:
    upstreams.tracking.processes.add("fault-repair")


async def add(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/risk-points", json=risk_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


class TestRiskPoints:
    async def test_create_read_replace_delete(self, client: httpx.AsyncClient) -> None:
        risk = await add(client)
        assert (risk["process"], risk["node"], risk["owner"]["person"], risk["version"]) == (
            "fault-repair",
            "dispatch",
            "zhou",
            1,
        )
        got = (await client.get(f"/v1/risk-points/{risk['id']}")).json()
        assert got["controls"] == [risk_body()["controls"][0]]
        replaced = await client.put(f"/v1/risk-points/{risk['id']}", json=risk_body(level="medium", node=None))
        assert replaced.status_code == 200, replaced.text
        assert (replaced.json()["level"], replaced.json()["node"], replaced.json()["version"]) == ("medium", None, 2)
        assert (await client.delete(f"/v1/risk-points/{risk['id']}")).status_code == 204
        assert (await client.get(f"/v1/risk-points/{risk['id']}")).status_code == 404

    async def test_listed_by_kpi_alert_and_department(self, client: httpx.AsyncClient) -> None:
        first = await add(client)
        second = await add(client, process=None, node=None, department="call-centre", kpis=["csat"], alerts=[])
        by_kpi = (await client.get("/v1/risk-points", params={"kpi": "work_order_on_time_rate"})).json()["items"]
        assert [r["id"] for r in by_kpi] == [first["id"]]
        by_alert = (await client.get("/v1/risk-points", params={"alert": "fault-repair-dispatch-burn"})).json()
        assert [r["id"] for r in by_alert["items"]] == [first["id"]]
        by_dept = (await client.get("/v1/risk-points", params={"department": "call-centre"})).json()["items"]
        assert [r["id"] for r in by_dept] == [second["id"]]
        page = await client.get("/v1/risk-points", params={"limit": 1})
        assert page.json()["next_cursor"] is not None

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"process": None, "node": None}, "body.process"),
            ({"process": None}, "body.node"),
            ({"process": "no-such-process", "node": None}, "body.process"),
            ({"controls": []}, "controls"),
            ({"level": "extreme"}, "level"),
        ],
    )
    async def test_bad_bodies_name_the_field(
        self, client: httpx.AsyncClient, overrides: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/v1/risk-points", json=risk_body(**overrides))
        assert response.status_code == 422, response.text
        assert field in response.text


async def test_the_demos_practices_and_risk_points_are_accepted(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    from pledge_dev.demo_voice import PRACTICES, RISK_POINTS

    upstreams.tracking.processes.update({"fault-repair", "new-connection", "call-centre-order"})
    for body in PRACTICES:
        assert (await client.post("/v1/practices", json=body)).status_code == 201
    for body in RISK_POINTS:
        response = await client.post("/v1/risk-points", json=body)
        assert response.status_code == 201, response.text
    found = (await client.get("/v1/practices", params={"q": "复电", "node": "restore"})).json()["items"]
    assert [p["root_causes"] for p in found] == [["crew-capacity"]]
