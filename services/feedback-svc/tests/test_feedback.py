"""Feedback capture and aggregates, on a real Postgres; tracking-svc answered at the network edge."""

import csv
import io

import httpx
import pytest
from pledge_common.exports import CSV
from upstreams import Upstreams

PROBLEM = "application/problem+json"


@pytest.fixture
def repair_ticket(upstreams: Upstreams) -> str:
    upstreams.tracking.add_ticket(
        "T-1",
        "fault-repair",
        segment="residential",
        customer_ref="C-9",
        nodes=[("dispatch", "ops"), ("repair", "field")],
    )
    return "T-1"


class TestCreateFeedback:
    async def test_feedback_for_a_ticket_takes_process_segment_customer_and_nodes_from_tracking(
        self, client: httpx.AsyncClient, repair_ticket: str
    ) -> None:
        response = await client.post(
            "/v1/feedback", json={"ticket_id": repair_ticket, "csat": 4, "nps": 9, "channel": "sms"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["process"] == "fault-repair"
        assert body["segment"] == "residential"
        assert body["customer"] == "C-9"
        assert [n["node"] for n in body["nodes"]] == ["dispatch", "repair"]
        assert body["nodes"][1]["department"] == "field"
        fetched = await client.get(f"/v1/feedback/{body['id']}")
        assert fetched.json() == body

    async def test_feedback_for_a_process_without_ticket(self, client: httpx.AsyncClient, upstreams: Upstreams) -> None:
        upstreams.tracking.processes.add("new-connection")
        response = await client.post(
            "/v1/feedback",
            json={"process": "new-connection", "nps": 3, "channel": "web", "segment": "enterprise"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["csat"] is None
        assert response.json()["nodes"] == []

    async def test_second_feedback_on_the_same_ticket_and_channel_is_409_naming_the_existing_one(
        self, client: httpx.AsyncClient, repair_ticket: str
    ) -> None:
        first = await client.post("/v1/feedback", json={"ticket_id": repair_ticket, "csat": 4, "channel": "sms"})
        again = await client.post("/v1/feedback", json={"ticket_id": repair_ticket, "csat": 2, "channel": "sms"})
        assert again.status_code == 409
        assert again.headers["content-type"] == PROBLEM
        assert again.json()["existing_id"] == first.json()["id"]
        other_channel = await client.post(
            "/v1/feedback", json={"ticket_id": repair_ticket, "csat": 2, "channel": "web"}
        )
        assert other_channel.status_code == 201

    async def test_patch_updates_the_feedback_of_a_ticket_channel(
        self, client: httpx.AsyncClient, repair_ticket: str
    ) -> None:
        first = await client.post("/v1/feedback", json={"ticket_id": repair_ticket, "csat": 4, "channel": "sms"})
        patched = await client.patch(f"/v1/feedback/{first.json()['id']}", json={"csat": 2, "comment": "slow"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["csat"] == 2
        assert patched.json()["comment"] == "slow"


class TestBadFeedback:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"process": "p", "csat": 6, "channel": "sms"}, "csat"),
            ({"process": "p", "csat": 0, "channel": "sms"}, "csat"),
            ({"process": "p", "nps": 11, "channel": "sms"}, "nps"),
            ({"process": "p", "nps": -1, "channel": "sms"}, "nps"),
            ({"process": "p", "csat": 3, "channel": "sms", "colour": "red"}, "colour"),
            ({"process": "p", "csat": 3}, "channel"),
        ],
    )
    async def test_scores_out_of_range_and_unknown_fields_are_422_naming_the_field(
        self, client: httpx.AsyncClient, body: dict[str, object], field: str
    ) -> None:
        response = await client.post("/v1/feedback", json=body)
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert field in [e["field"] for e in response.json()["errors"]]

    async def test_feedback_without_any_score_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/feedback", json={"process": "p", "channel": "sms"})
        assert response.status_code == 422
        assert "csat" in response.json()["detail"]

    async def test_unknown_ticket_is_422_naming_ticket_id(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/feedback", json={"ticket_id": "nope", "csat": 3, "channel": "sms"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "ticket_id"

    async def test_unknown_process_is_422_naming_process(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/feedback", json={"process": "nope", "csat": 3, "channel": "sms"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "process"

    async def test_tracking_down_is_503_problem_and_nothing_is_written(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.down = True
        response = await client.post("/v1/feedback", json={"ticket_id": "T-1", "csat": 3, "channel": "sms"})
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM
        assert "tracking-svc" in response.json()["detail"]
        listed = await client.get("/v1/feedback")
        assert listed.json()["items"] == []

    async def test_naive_instant_is_422(self, client: httpx.AsyncClient, upstreams: Upstreams) -> None:
        upstreams.tracking.processes.add("p")
        response = await client.post(
            "/v1/feedback", json={"process": "p", "csat": 3, "channel": "sms", "given_at": "2026-03-03T10:00:00"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "given_at"


class TestSummary:
    async def _give(self, client: httpx.AsyncClient, **body: object) -> None:
        response = await client.post("/v1/feedback", json={"channel": "sms", **body})
        assert response.status_code == 201, response.text

    async def test_csat_is_share_of_4_and_5_and_nps_is_promoters_minus_detractors(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.processes.update({"p", "q"})
        at = "2026-03-03T10:00:00+08:00"
        for csat, nps in [(5, 10), (4, 9), (3, 7), (1, 0)]:
            await self._give(client, process="p", csat=csat, nps=nps, given_at=at)
        await self._give(client, process="q", csat=2, given_at=at)
        response = await client.get("/v1/feedback/summary", params={"group_by": "process"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["totals"]["responses"] == 5
        assert body["totals"]["csat"] == 0.4  # 2 of 5
        p, q = body["groups"]
        assert (p["process"], p["csat"], p["csat_responses"]) == ("p", 0.5, 4)
        # promoters 2 (10, 9), passives 1 (7), detractors 1 (0): 50 % - 25 %
        assert (p["promoters"], p["passives"], p["detractors"], p["nps"]) == (2, 1, 1, 25.0)
        assert (q["process"], q["nps"], q["nps_responses"]) == ("q", None, 0)

        exported = await client.get("/v1/feedback/summary", params={"group_by": "process"}, headers={"Accept": CSV})
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-disposition"] == 'attachment; filename="feedback-summary.csv"; ' + (
            "filename*=UTF-8''feedback-summary.csv"
        )
        text = exported.content.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text[1:])))
        assert [(r["part"], r["process"], r["csat"], r["nps"]) for r in rows] == [
            ("group", "p", "0.5", "25.0"),
            ("group", "q", "0.0", ""),
            ("total", "", "0.4", "25.0"),
        ]
        refused = await client.get("/v1/feedback/summary", headers={"Accept": "application/pdf"})
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (406, "header.Accept")

    async def test_groups_by_node_department_and_period_bucket(
        self, client: httpx.AsyncClient, repair_ticket: str, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket("T-2", "fault-repair", segment="vip", nodes=[("dispatch", "ops")])
        await self._give(client, ticket_id=repair_ticket, csat=5, given_at="2026-03-31T23:30:00+08:00")
        await self._give(client, ticket_id="T-2", csat=2, given_at="2026-04-01T08:00:00+08:00")
        by_node = (await client.get("/v1/feedback/summary", params={"group_by": ["node", "department"]})).json()
        assert [(g["node"], g["department"], g["responses"], g["csat"]) for g in by_node["groups"]] == [
            ("dispatch", "ops", 2, 0.5),
            ("repair", "field", 1, 1.0),
        ]
        # 2026-03-31 23:30 +08:00 is March in Shanghai but 15:30 UTC March too; 04-01 08:00 +08:00 is 00:00 UTC April
        by_month = (
            await client.get(
                "/v1/feedback/summary", params={"group_by": "period", "bucket": "month", "tz": "Asia/Shanghai"}
            )
        ).json()
        assert [(g["period"][:10], g["responses"]) for g in by_month["groups"]] == [
            ("2026-02-28", 1),
            ("2026-03-31", 1),
        ]

    async def test_unknown_group_by_and_time_zone_are_422(self, client: httpx.AsyncClient) -> None:
        bad_group = await client.get("/v1/feedback/summary", params={"group_by": "colour"})
        assert bad_group.status_code == 422
        assert bad_group.json()["errors"][0]["field"].startswith("query.group_by")
        bad_zone = await client.get("/v1/feedback/summary", params={"tz": "Mars/Olympus"})
        assert bad_zone.status_code == 422
        assert bad_zone.json()["errors"][0]["field"] == "query.tz"

    async def test_group_by_is_repeated_and_a_comma_is_not_a_separator(self, client: httpx.AsyncClient) -> None:
        repeated = await client.get("/v1/feedback/summary", params=[("group_by", "process"), ("group_by", "node")])
        assert repeated.status_code == 200, repeated.text
        comma = await client.get("/v1/feedback/summary", params={"group_by": "process,node"})
        assert comma.status_code == 422
        assert comma.json()["errors"][0]["field"].startswith("query.group_by")

    async def test_a_report_of_one_dimension_refuses_two(self, client: httpx.AsyncClient) -> None:
        two = await client.get("/v1/complaints/metrics", params=[("group_by", "process"), ("group_by", "severity")])
        assert two.status_code == 422
        assert two.json()["errors"][0]["field"] == "query.group_by"


class TestSourceBoundCallers:
    async def test_a_caller_bound_to_other_sources_cannot_name_the_ticket(
        self, client: httpx.AsyncClient, repair_ticket: str, settings: object
    ) -> None:
        from pledge_common.identity import Caller, identity_headers

        partner = Caller(sub="billing-key", kind="key", scopes=frozenset({"admin"}), sources=frozenset({"billing"}))
        headers = identity_headers(partner, settings.service_token)  # type: ignore[attr-defined]
        response = await client.post(
            "/v1/feedback", json={"ticket_id": repair_ticket, "csat": 3, "channel": "sms"}, headers=headers
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "ticket_id"
