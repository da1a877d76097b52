"""Custom KPIs through the HTTP API, computed on a real Postgres beside the built-ins (docs/kpis.md)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from evalfactories import at, ticket
from evaluation_svc.kpis import service
from evaluation_svc.kpis.repository import KpiRepository
from evaluation_svc.kpis.rules import parse_period
from pledge_common.identity import Caller, identity_headers
from sqlalchemy.ext.asyncio import AsyncSession
from test_kpis import PERIOD, by_kpi, march

REPAIRS = [{"dimension": "process", "op": "eq", "values": ["fault-repair"]}]
ON_TIME_REPAIRS = {
    "key": "repair_on_time_rate",
    "name": "Repairs within their commitment",
    "unit": "rate",
    "direction": "higher",
    "kind": "ratio",
    "population": {"runs": "end_to_end", "filters": REPAIRS},
    "numerator": {"filters": [{"dimension": "state", "op": "in", "values": ["completed_normal"]}]},
}
REPAIR_HOURS = {
    "key": "repair_hours",
    "name": "Average repair time",
    "unit": "hours",
    "direction": "lower",
    "kind": "average",
    "population": {"runs": "end_to_end", "filters": REPAIRS},
    "measure": "counted_seconds",
}
CONNECTION_DAYS = {
    **REPAIR_HOURS,
    "key": "connection_days",
    "unit": "working_days",
    "population": {
        "runs": "end_to_end",
        "filters": [{"dimension": "process", "op": "in", "values": ["new-connection"]}],
    },
}


async def scorecard(client: httpx.AsyncClient, department: str, period: str = PERIOD) -> dict[str, Any]:
    found = await client.get("/v1/scorecards", params={"department": department, "period": period})
    assert found.status_code == 200, found.text
    return by_kpi(found.json())


class TestWorkedExamples:
    async def test_a_ratio_and_averages_beside_the_built_ins(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await march(session)
        for body in (ON_TIME_REPAIRS, REPAIR_HOURS, CONNECTION_DAYS):
            made = await client.post("/v1/kpis", json=body)
            assert made.status_code == 201, made.text
            assert made.json()["version"] == 1
        target = {"kpi": "repair_on_time_rate", "department": "ops", "period": PERIOD, "target": 0.4}
        assert (await client.post("/v1/kpi-targets", json=target)).status_code == 201
        kpis = await scorecard(client, "ops")
        assert len(kpis) == 15  # 12 built-in, 3 custom
        ratio = kpis["repair_on_time_rate"]
        # repairs t1 (within its commitment) and t2 (not): 1 of 2, the built-in on-time rate of ops alike
        assert ratio["value"] == kpis["on_time_rate"]["value"] == 0.5
        assert (ratio["target"], ratio["met"], ratio["rank"], ratio["ranked"]) == (0.4, True, 1, 1)
        assert ratio["trend"][-1] == {"period": PERIOD, "value": 0.5}
        # t1: 2 counted hours; t2: 18 (Tue 10:00-18:00 less lunch, Wed 8, Thu 3): (2 + 18) / 2
        assert kpis["repair_hours"]["value"] == 10.0
        # the new connections took 1 and 2 working days: the built-in connection time of marketing
        marketing = await scorecard(client, "marketing")
        assert marketing["connection_days"]["value"] == marketing["connection_time"]["value"] == 1.5
        assert marketing["repair_on_time_rate"]["value"] is None  # no repairs: no value, never 0 %
        listed = {k["key"]: k for k in (await client.get("/v1/kpis")).json()["items"]}
        assert len(listed) == 15
        assert listed["repair_hours"]["custom"]
        assert listed["repair_hours"]["unit"] == "hours"
        assert not listed["csat"]["custom"]

    async def test_node_run_filters_not_in_and_booleans(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await march(session)
        body = {
            **ON_TIME_REPAIRS,
            "key": "first_cycle_share",
            "population": {
                "runs": "node",
                "filters": [*REPAIRS, {"dimension": "ended_by_ticket", "op": "eq", "values": [False]}],
            },
            "numerator": {"filters": [{"dimension": "cycle", "op": "not_in", "values": [2, 3]}]},
        }  # fmt: skip
        assert (await client.post("/v1/kpis", json=body)).status_code == 201, body
        values = {
            card["department"]: by_kpi(card)["first_cycle_share"]["value"]
            for card in (await client.get("/v1/scorecards/utility", params={"period": PERIOD})).json()["scorecards"]
        }
        # the node runs r1, r2a (cycle 1) and r2b (cycle 2) of repairs: 2 of 3, by their node's department
        assert 0.6667 in values.values()
        assert sorted(v for v in values.values() if v is not None) == [0.6667]

    async def test_a_closed_month_of_a_custom_kpi_is_frozen_like_the_built_ins(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await march(session)
        assert (await client.post("/v1/kpis", json=ON_TIME_REPAIRS)).status_code == 201
        assert (await scorecard(client, "ops"))["repair_on_time_rate"]["adjustment"] is None
        # a repair of March arrives late, within its commitment: 2 of 3 now, March stays as frozen
        late = ticket("t3", opened=at("2026-03-10 10:00"), closed=at("2026-03-10 11:00"))
        await projection.handle_tracking(session, [late])
        later = (await scorecard(client, "ops"))["repair_on_time_rate"]
        assert (later["value"], later["adjustment"]) == (0.5, 0.1667)


class TestVersions:
    async def test_a_month_is_computed_with_the_version_in_force_at_its_start(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await march(session)
        body = {**ON_TIME_REPAIRS, "effective_from": "2026-01"}
        assert (await client.post("/v1/kpis", json=body)).status_code == 201
        every_completed = ["completed_normal", "completed_acceptable", "completed_warning"]
        v2 = {k: v for k, v in body.items() if k not in ("key", "effective_from")}
        v2["numerator"] = {"filters": [{"dimension": "state", "op": "in", "values": every_completed}]}
        # a new version governs from the current month at the earliest: March (closed) keeps version 1
        refused = await client.post("/v1/kpis/repair_on_time_rate/versions", json={**v2, "effective_from": PERIOD})
        assert [e["field"] for e in refused.json()["errors"]] == ["effective_from"]
        made = await client.post("/v1/kpis/repair_on_time_rate/versions", json=v2, headers={"Idempotency-Key": "v2"})
        assert made.status_code == 201, made.text
        assert made.json()["version"] == 2
        again = await client.post("/v1/kpis/repair_on_time_rate/versions", json=v2, headers={"Idempotency-Key": "v2"})
        assert again.content == made.content  # a retry is answered, not a third version
        versions = (await client.get("/v1/kpis/repair_on_time_rate")).json()["versions"]
        assert [v["version"] for v in versions] == [1, 2]
        assert (await scorecard(client, "ops"))["repair_on_time_rate"]["value"] == 0.5  # version 1

    async def test_a_version_in_force_at_a_months_start_computes_it(self, session: AsyncSession) -> None:
        """The selection itself, on versions written by the repository (the API refuses a closed month)."""
        await march(session)
        repo = KpiRepository(session)
        base = {"key": "k", "name": "n", "unit": "rate", "direction": "higher", "kind": "ratio", "created_by": None}
        v1 = {"population": ON_TIME_REPAIRS["population"], "numerator": ON_TIME_REPAIRS["numerator"]}
        states = ["completed_normal", "completed_acceptable", "completed_warning"]
        every = {"filters": [{"dimension": "state", "op": "in", "values": states}]}
        assert await repo.insert_custom({**base, "definition": v1, "effective_from": "2026-01"}, True)
        v2 = {**v1, "numerator": every}
        assert await repo.insert_custom({**base, "definition": v2, "effective_from": "2026-03"}, False)
        assert await repo.insert_custom({**base, "definition": v1, "effective_from": "2026-04"}, False)
        found = await service.utility(
            session, None, parse_period(PERIOD), ZoneInfo("Asia/Shanghai"), datetime.now(UTC), timedelta(days=7)
        )
        ops = next(by_kpi(c.model_dump()) for c in found.scorecards if c.department == "ops")
        # version 2 (in force on 1 March; not 1, nor 3 of April) counts every completed repair: 2 of 2
        assert ops["k"]["value"] == 1.0
        assert [p["value"] for p in ops["k"]["trend"]][-2:] == [None, 1.0]


class TestRefusals:
    async def test_422_naming_the_field(self, client: httpx.AsyncClient) -> None:
        for change, field in (
            ({"population": {"runs": "end_to_end", "filters": [{"dimension": "region", "op": "in", "values": ["x"]}]}},
             "population.filters[0].dimension"),
            ({"numerator": {"filters": [*REPAIRS, {"dimension": "state", "op": "like", "values": ["x"]}]}},
             "numerator.filters[1].op"),
            ({"numerator": {"filters": [{"dimension": "cycle", "op": "eq", "values": [1]}]}},
             "numerator.filters[0].dimension"),
            ({"numerator": {"filters": [{"dimension": "state", "op": "in", "values": ["cancelled"]}]}},
             "numerator.filters[0].values[0]"),
            ({"numerator": None}, "numerator"),
            ({"unit": "hours"}, "unit"),
            ({"measure": "counted_seconds"}, "measure"),
            ({"key": "Bad Key"}, "key"),
            ({"effective_from": "2026-13"}, "effective_from"),
            ({"population": {"runs": "both"}}, "population.runs"),
            ({"extra": 1}, "extra"),
        ):  # fmt: skip
            refused = await client.post("/v1/kpis", json={**ON_TIME_REPAIRS, **change})
            assert refused.status_code == 422, (change, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in refused.json()["errors"]] == [field], change
        assert (await client.get("/v1/kpis")).json()["items"].__len__() == 12  # nothing half-written

    async def test_built_ins_are_not_editable_and_a_key_is_defined_once(self, client: httpx.AsyncClient) -> None:
        assert (await client.post("/v1/kpis", json={**ON_TIME_REPAIRS, "key": "csat"})).status_code == 409
        version = {k: v for k, v in ON_TIME_REPAIRS.items() if k != "key"}
        assert (await client.post("/v1/kpis/csat/versions", json=version)).status_code == 409
        assert (await client.post("/v1/kpis/nope/versions", json=version)).status_code == 404
        assert (await client.post("/v1/kpis", json=ON_TIME_REPAIRS)).status_code == 201
        assert (await client.post("/v1/kpis", json=ON_TIME_REPAIRS)).status_code == 409
        hours = {k: v for k, v in REPAIR_HOURS.items() if k != "key"}
        refused = await client.post("/v1/kpis/repair_on_time_rate/versions", json=hours)
        assert [e["field"] for e in refused.json()["errors"]] == ["unit"]
        target = {"kpi": "repair_on_time_rate", "department": "ops", "period": PERIOD, "target": 1.5}
        refused = await client.post("/v1/kpi-targets", json=target)
        assert [e["field"] for e in refused.json()["errors"]] == ["target"]
        refused = await client.post("/v1/kpi-targets", json={**target, "kpi": "nope", "target": 0.5})
        assert [e["field"] for e in refused.json()["errors"]] == ["kpi"]

    async def test_defining_needs_the_definitions_scope(self, client: httpx.AsyncClient, settings: Any) -> None:
        reader = Caller(sub="u-1", kind="user", scopes=frozenset({"reports:read"}), sources=None)
        headers = identity_headers(reader, settings.service_token)
        refused = await client.post("/v1/kpis", json=ON_TIME_REPAIRS, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "definitions:write"
        version = {k: v for k, v in ON_TIME_REPAIRS.items() if k != "key"}
        refused = await client.post("/v1/kpis/x/versions", json=version, headers=headers)
        assert refused.json()["required_scope"] == "definitions:write"
        assert (await client.get("/v1/kpis", headers=headers)).status_code == 200

    async def test_the_ceilings_of_custom_kpis(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        for n in range(10):
            made = await client.post("/v1/kpis", json={**CONNECTION_DAYS, "key": f"days_{n}"})
            assert made.status_code == 201, made.text
        refused = await client.post("/v1/kpis", json={**CONNECTION_DAYS, "key": "days_10"})
        assert refused.status_code == 409
        assert "working days" in refused.json()["detail"]
        repo = KpiRepository(session)
        stored = {"population": ON_TIME_REPAIRS["population"], "numerator": ON_TIME_REPAIRS["numerator"]}
        base = {"name": "n", "unit": "rate", "direction": "higher", "kind": "ratio", "created_by": None}
        for n in range(40):
            row = {**base, "key": f"ratio_{n}", "definition": stored, "effective_from": "2026-01"}
            assert await repo.insert_custom(row, True)
        refused = await client.post("/v1/kpis", json=ON_TIME_REPAIRS)
        assert refused.status_code == 409
        assert "50 custom KPIs" in refused.json()["detail"]

    async def test_the_catalogue_pages_built_in_and_custom_kpis_by_key(self, client: httpx.AsyncClient) -> None:
        for key in ("aaa_first", "zzz_last", "d_between"):
            assert (await client.post("/v1/kpis", json={**ON_TIME_REPAIRS, "key": key})).status_code == 201
        keys: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = (await client.get("/v1/kpis", params=params)).json()
            keys += [k["key"] for k in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert keys == sorted(keys)
        assert len(keys) == len(set(keys)) == 15
        assert {"aaa_first", "zzz_last", "d_between", "csat"} <= set(keys)
