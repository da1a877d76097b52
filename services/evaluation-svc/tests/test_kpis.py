"""KPI targets and scorecards through the HTTP API, on a real Postgres (docs/kpis.md)."""

from typing import Any

import httpx
from evalfactories import at, calendar_w, commitment, node_run, process, ticket
from evaluation_svc.readmodel.service import Projection
from pledge_common.identity import Caller, identity_headers
from sqlalchemy.ext.asyncio import AsyncSession

PERIOD = "2026-03"  # closed: the scorecard freezes it at its first computation


async def march(session: AsyncSession) -> Projection:
    """Repairs (process owner `ops`, nodes of department `field`) and new connections (owner `marketing`):

    - repair t1: opened Tue 03-03 10:00, closed 12:00 (2 h, within PT6H); its node run likewise;
    - repair t2: opened Tue 10:00, closed Thu 03-05 12:00 (18 h of office time, past PT10H); node cycle 1
      10:00-11:00, cycle 2 (a reopen) Wed 09:00 - Thu 12:00 (11 h, past the node's PT10H tolerance);
    - connections n1 (Mon 03-02 10:00 - Tue 17:00, 1 business day) and n2 (Mon 10:00 - Wed 17:00, 2).
    """
    projection = Projection()
    await projection.handle_commitment(
        session,
        [
            calendar_w(),
            process(owner="ops"),
            process("new-connection", nodes=("accept",), owner="marketing"),
            commitment(),
            commitment("c-e2e", key="repair-e2e", node_key=None, owner_department="ops"),
            commitment(
                "c-nc", key="nc-e2e", process_key="new-connection", node_key=None, limit_unit="business_days",
                commitment_limit="P3D", tolerance_limit="P5D", owner_department="marketing",
            ),
        ],
    )  # fmt: skip
    await projection.handle_tracking(
        session,
        [
            ticket("t1", opened=at("2026-03-03 10:00"), closed=at("2026-03-03 12:00")),
            node_run("r1", ticket_id="t1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 12:00")),
            ticket("t2", opened=at("2026-03-03 10:00"), closed=at("2026-03-05 12:00")),
            node_run("r2a", ticket_id="t2", started=at("2026-03-03 10:00"), completed=at("2026-03-03 11:00")),
            node_run("r2b", ticket_id="t2", cycle=2, started=at("2026-03-04 09:00"), completed=at("2026-03-05 12:00")),
            ticket("n1", process_key="new-connection", opened=at("2026-03-02 10:00"), closed=at("2026-03-03 17:00")),
            ticket("n2", process_key="new-connection", opened=at("2026-03-02 10:00"), closed=at("2026-03-04 17:00")),
        ],
    )
    return projection


def by_kpi(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k["kpi"]: k for k in card["kpis"]}


class TestCatalogue:
    async def test_the_catalogue_lists_the_built_in_kpis_with_unit_and_direction(
        self, client: httpx.AsyncClient
    ) -> None:
        found = await client.get("/v1/kpis")
        assert found.status_code == 200, found.text
        kpis = {k["key"]: k for k in found.json()["items"]}
        assert len(kpis) == 12  # the six of document 003 and six measures of document 002
        assert [k for k, v in kpis.items() if v["document"] == "003"] == sorted(
            ["connection_time", "first_time_fix_rate", "on_time_rate", "complaint_first_time_resolution_rate",
             "csat", "commitment_fulfilment_rate"]
        )  # fmt: skip
        assert kpis["complaint_volume"]["unit"] == "count"
        assert kpis["connection_time"]["unit"] == "working_days"
        assert kpis["connection_time"]["direction"] == "lower"
        assert kpis["csat"]["source"] == "feedback"


class TestTargets:
    async def test_a_target_is_set_once_listed_in_pages_and_deleted(self, client: httpx.AsyncClient) -> None:
        body = {"kpi": "on_time_rate", "department": "ops", "period": PERIOD, "target": 0.9}
        key = {"Idempotency-Key": "target-once"}
        first = await client.post("/v1/kpi-targets", json=body, headers=key)
        again = await client.post("/v1/kpi-targets", json=body, headers=key)
        assert first.status_code == again.status_code == 201, first.text
        assert again.content == first.content
        assert (await client.post("/v1/kpi-targets", json=body)).status_code == 409
        for department in ("a", "b"):
            made = await client.post("/v1/kpi-targets", json={**body, "department": department})
            assert made.status_code == 201
        page = await client.get("/v1/kpi-targets", params={"limit": 2, "period": PERIOD})
        assert [t["department"] for t in page.json()["items"]] == ["a", "b"]
        rest = await client.get("/v1/kpi-targets", params={"limit": 2, "cursor": page.json()["next_cursor"]})
        assert [t["department"] for t in rest.json()["items"]] == ["ops"]
        gone = await client.delete(f"/v1/kpi-targets/{first.json()['id']}")
        assert gone.status_code == 204
        assert (await client.delete(f"/v1/kpi-targets/{first.json()['id']}")).status_code == 404

    async def test_bad_targets_are_422_naming_the_field(self, client: httpx.AsyncClient) -> None:
        good = {"kpi": "on_time_rate", "department": "ops", "period": PERIOD, "target": 0.9}
        for change, field in (
            ({"kpi": "nps"}, "kpi"),
            ({"period": "2026-13"}, "period"),
            ({"period": "2026-3"}, "period"),
            ({"target": 1.5}, "target"),
            ({"target": -1}, "target"),
            ({"department": "x" * 101}, "department"),
            ({"extra": 1}, "extra"),
        ):
            refused = await client.post("/v1/kpi-targets", json={**good, **change})
            assert refused.status_code == 422, (change, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in refused.json()["errors"]] == [field], change
        refused = await client.get("/v1/kpi-targets", params={"period": "march"})
        assert [e["field"] for e in refused.json()["errors"]] == ["query.period"]
        refused = await client.get("/v1/kpi-targets", params={"segment": "vip"})
        assert [e["field"] for e in refused.json()["errors"]] == ["query.segment"]

    async def test_setting_a_target_needs_the_definitions_scope(self, client: httpx.AsyncClient, settings: Any) -> None:
        reader = Caller(sub="u-1", kind="user", scopes=frozenset({"reports:read"}), sources=None)
        headers = identity_headers(reader, settings.service_token)
        body = {"kpi": "csat", "department": "ops", "period": PERIOD, "target": 0.9}
        refused = await client.post("/v1/kpi-targets", json=body, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "definitions:write"
        assert (await client.get("/v1/kpi-targets", headers=headers)).status_code == 200


class TestScorecards:
    async def test_a_departments_scorecard_of_the_month(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await march(session)
        target = {"kpi": "on_time_rate", "department": "ops", "period": PERIOD, "target": 0.9}
        assert (await client.post("/v1/kpi-targets", json=target)).status_code == 201
        found = await client.get("/v1/scorecards", params={"department": "ops", "period": PERIOD})
        assert found.status_code == 200, found.text
        card = found.json()
        assert (card["department"], card["period"], card["closed"]) == ("ops", PERIOD, True)
        kpis = by_kpi(card)
        assert len(kpis) == 12
        on_time = kpis["on_time_rate"]
        # t1 within its commitment, t2 not: 1 of 2; target 0.9 not met; of 2 departments with work orders
        # (marketing: 2 of 2) ops is second
        assert (on_time["value"], on_time["target"], on_time["met"]) == (0.5, 0.9, False)
        assert (on_time["rank"], on_time["ranked"]) == (2, 2)
        assert [p["period"] for p in on_time["trend"]][::11] == ["2025-04", PERIOD]
        assert on_time["trend"][-1]["value"] == 0.5
        assert on_time["change"] is None  # no February
        # t2 reopened within 7 days: 1 of 2 repairs fixed the first time
        assert kpis["first_time_fix_rate"]["value"] == 0.5
        # ops has work orders (end-to-end runs) but no node run: no fulfilment rate, its tickets never summed in
        assert kpis["commitment_fulfilment_rate"]["value"] is None
        # feedback-svc does not run here: said, not a 500
        assert kpis["csat"]["value"] is None
        assert kpis["csat"]["unavailable"]
        field = by_kpi((await client.get("/v1/scorecards", params={"department": "field", "period": PERIOD})).json())
        # node runs r1, r2a within PT6H, r2b past it: 2 of 3
        assert field["commitment_fulfilment_rate"]["value"] == 0.6667
        marketing = by_kpi(
            (await client.get("/v1/scorecards", params={"department": "marketing", "period": PERIOD})).json()
        )
        # n1 took 1 business day, n2 2: 1.5 working days
        assert marketing["connection_time"]["value"] == 1.5
        assert marketing["on_time_rate"]["rank"] == 1

    async def test_one_view_of_the_six_kpis_for_every_department(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await march(session)
        found = await client.get("/v1/scorecards/utility", params={"period": PERIOD})
        assert found.status_code == 200, found.text
        cards = {c["department"]: by_kpi(c) for c in found.json()["scorecards"]}
        assert {"ops", "field", "marketing"} <= set(cards)
        assert all(len(kpis) == 6 for kpis in cards.values())
        assert cards["marketing"]["connection_time"]["value"] == 1.5

    async def test_a_closed_month_is_frozen_and_late_events_are_adjustments(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await march(session)
        params = {"department": "ops", "period": PERIOD}
        first = await client.get("/v1/scorecards", params=params)
        assert first.json()["frozen_at"] is not None
        assert by_kpi(first.json())["on_time_rate"]["adjustment"] is None
        # a work order of March arrives late, done within its commitment: 2 of 3 now
        await projection.handle_tracking(
            session, [ticket("t3", opened=at("2026-03-10 10:00"), closed=at("2026-03-10 11:00"))]
        )
        later = by_kpi((await client.get("/v1/scorecards", params=params)).json())["on_time_rate"]
        assert (later["value"], later["adjustment"]) == (0.5, 0.1667)
        assert later["trend"][-1]["value"] == 0.5
        # April's scorecard (April was never computed: frozen now, with no work order) shows March as frozen
        april = by_kpi((await client.get("/v1/scorecards", params={**params, "period": "2026-04"})).json())
        on_time = april["on_time_rate"]
        assert [p["value"] for p in on_time["trend"][-2:]] == [0.5, None]
        assert (on_time["value"], on_time["change"], on_time["adjustment"]) == (None, None, None)

    async def test_the_current_month_is_not_frozen(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await march(session)
        found = await client.get("/v1/scorecards/utility", params={"period": "2099-01"})
        assert found.status_code == 200
        assert (found.json()["closed"], found.json()["frozen_at"]) == (False, None)

    async def test_bad_queries_are_422_or_404(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await march(session)
        for params, field in (
            ({"department": "ops", "period": "2026-3"}, "query.period"),
            ({"department": "ops", "period": "2026-03", "process": "fault-repair"}, "query.process"),
            ({"department": "ops", "period": "2026-03", "segment": "-vip"}, "query.segment"),
            ({"period": "2026-03"}, "query.department"),
        ):
            refused = await client.get("/v1/scorecards", params=params)
            assert refused.status_code == 422, refused.text
            assert [e["field"] for e in refused.json()["errors"]] == [field]
        missing = await client.get("/v1/scorecards", params={"department": "nobody", "period": "2026-03"})
        assert missing.status_code == 404

    async def test_a_key_bound_to_source_systems_is_refused(self, client: httpx.AsyncClient, settings: Any) -> None:
        partner = Caller(sub="key-1", kind="key", scopes=frozenset({"reports:read"}), sources=frozenset({"crm"}))
        headers = identity_headers(partner, settings.service_token)
        refused = await client.get("/v1/scorecards/utility", params={"period": PERIOD}, headers=headers)
        assert refused.status_code == 403


class TestSegmentScorecards:
    """docs/kpis.md, "A segment's scorecard": the worked example."""

    async def test_a_segments_scorecard_has_its_population_and_its_own_targets(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await march(session)
        # a repair of a VIP customer, opened Tue 03-10 10:00 and closed 11:00: within its commitment
        await projection.handle_tracking(
            session, [ticket("t4", segment="vip", opened=at("2026-03-10 10:00"), closed=at("2026-03-10 11:00"))]
        )
        for segment, target in ((None, 0.6), ("vip", 0.95)):
            body = {"kpi": "on_time_rate", "department": "ops", "segment": segment, "period": PERIOD, "target": target}
            assert (await client.post("/v1/kpi-targets", json=body)).status_code == 201
        whole = by_kpi((await client.get("/v1/scorecards", params={"department": "ops", "period": PERIOD})).json())
        # every segment: t1 and t4 within, t2 not: 2 of 3, target 0.6 met
        assert (whole["on_time_rate"]["value"], whole["on_time_rate"]["target"]) == (0.6667, 0.6)
        assert whole["on_time_rate"]["met"] is True
        found = await client.get("/v1/scorecards", params={"department": "ops", "period": PERIOD, "segment": "vip"})
        assert found.status_code == 200, found.text
        assert (found.json()["segment"], found.json()["closed"]) == ("vip", True)
        vip = by_kpi(found.json())
        # VIP only: t4, 1 of 1, against the VIP target 0.95; no other department has VIP work orders
        on_time = vip["on_time_rate"]
        assert (on_time["value"], on_time["target"], on_time["met"]) == (1.0, 0.95, True)
        assert (on_time["rank"], on_time["ranked"]) == (1, 1)
        assert on_time["trend"][-1]["value"] == 1.0
        assert vip["first_time_fix_rate"]["value"] == 1.0
        # complaints carry no segment: no value rather than the department's; no target borrowed either
        assert vip["complaint_first_time_resolution_rate"]["value"] is None
        assert vip["complaint_first_time_resolution_rate"]["unavailable"]
        residential = by_kpi(
            (
                await client.get(
                    "/v1/scorecards", params={"department": "ops", "period": PERIOD, "segment": "residential"}
                )
            ).json()
        )
        # t1 and t2: 1 of 2; no residential target is set, and the department-wide 0.6 is not borrowed
        assert (residential["on_time_rate"]["value"], residential["on_time_rate"]["target"]) == (0.5, None)
        assert residential["on_time_rate"]["met"] is None
        # marketing's connections n1, n2 are residential: it ranks with ops in that segment only
        assert (residential["on_time_rate"]["rank"], residential["on_time_rate"]["ranked"]) == (2, 2)

    async def test_a_segments_closed_month_is_frozen_apart(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await march(session)
        await projection.handle_tracking(
            session, [ticket("t4", segment="vip", opened=at("2026-03-10 10:00"), closed=at("2026-03-10 11:00"))]
        )
        params = {"department": "ops", "period": PERIOD}
        whole = by_kpi((await client.get("/v1/scorecards", params=params)).json())["on_time_rate"]
        assert whole["value"] == 0.6667  # March frozen for the department as a whole
        vip = by_kpi((await client.get("/v1/scorecards", params={**params, "segment": "vip"})).json())
        assert (vip["on_time_rate"]["value"], vip["on_time_rate"]["adjustment"]) == (1.0, None)
        # a late VIP work order of March, past its commitment: each scorecard keeps its frozen value
        await projection.handle_tracking(
            session, [ticket("t5", segment="vip", opened=at("2026-03-10 10:00"), closed=at("2026-03-12 10:00"))]
        )
        vip = by_kpi((await client.get("/v1/scorecards", params={**params, "segment": "vip"})).json())
        assert (vip["on_time_rate"]["value"], vip["on_time_rate"]["adjustment"]) == (1.0, -0.5)
        whole = by_kpi((await client.get("/v1/scorecards", params=params)).json())["on_time_rate"]
        assert (whole["value"], whole["adjustment"]) == (0.6667, -0.1667)

    async def test_an_unknown_segment_is_a_404(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await march(session)
        refused = await client.get("/v1/scorecards", params={"department": "ops", "period": PERIOD, "segment": "gold"})
        assert refused.status_code == 404, refused.text
        utility = await client.get("/v1/scorecards/utility", params={"period": PERIOD, "segment": "residential"})
        assert utility.status_code == 200, utility.text
        assert {c["segment"] for c in utility.json()["scorecards"]} == {"residential"}


class TestServiceMeasures:
    """Document 002's measures on the March data (docs/kpis.md, "Document 002's measures")."""

    async def test_the_work_order_measures_of_march(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await march(session)
        await projection.handle_tracking(
            session,
            [
                # opened Tue 03-31 10:00, closed Wed 04-01 10:00: closed after March's end
                ticket("t6", opened=at("2026-03-31 10:00"), closed=at("2026-04-01 10:00")),
                # cancelled: apart from the closure rate
                ticket("t7", opened=at("2026-03-20 10:00"), cancelled=at("2026-03-20 11:00")),
                # opened Wed 03-25 and still open
                ticket("t8", opened=at("2026-03-25 10:00")),
            ],
        )
        found = await client.get("/v1/scorecards", params={"department": "ops", "period": PERIOD})
        assert found.status_code == 200, found.text
        ops = by_kpi(found.json())
        # t1 answered when r1 ended (10:00-12:00: 2 h), t2 when r2a ended (10:00-11:00: 1 h)
        assert (ops["response_time"]["value"], ops["response_time"]["unit"]) == (1.5, "hours")
        # t1 2 counted hours, t2 18
        assert ops["handling_time"]["value"] == 10.0
        # t2 reopened (cycle 2 started the day after its first cycle ended): 1 of 2 resolved
        assert ops["resolution_rate"]["value"] == 0.5
        # opened in March, not cancelled: t1, t2 (closed in March), t6 (closed in April), t8 (open): 2 of 4
        assert ops["closure_rate"]["value"] == 0.5
        # t2 past its tolerance (PT10H): 1 of 2
        assert ops["problem_rate"]["value"] == 0.5
        assert ops["problem_rate"]["direction"] == "lower"
        # feedback-svc does not run here
        assert ops["complaint_volume"]["value"] is None
        assert ops["complaint_volume"]["unavailable"]
        marketing = by_kpi(
            (await client.get("/v1/scorecards", params={"department": "marketing", "period": PERIOD})).json()
        )
        # n1, n2 have no node runs: no response to measure (no value, never 0 h); never reopened: resolved
        assert marketing["response_time"]["value"] is None
        assert marketing["resolution_rate"]["value"] == 1.0
        assert (marketing["resolution_rate"]["rank"], ops["resolution_rate"]["rank"]) == (1, 2)
        # the utility view keeps to the six of document 003
        utility = await client.get("/v1/scorecards/utility", params={"period": PERIOD})
        assert {len(c["kpis"]) for c in utility.json()["scorecards"]} == {6}
