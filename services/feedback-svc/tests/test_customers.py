"""Customer events (once per source and external id), churn per period, pain points per customer."""

from typing import Any

import httpx
from feedback_svc.customers.rules import churn_rate, pain_index, warning_runs_per_customer
from test_complaints import file
from upstreams import Upstreams


class TestWorkedExamples:
    def test_churn_rate(self) -> None:
        assert churn_rate(200, 6) == 0.03
        assert churn_rate(0, 0) is None

    def test_pain_index(self) -> None:
        assert pain_index(complaints=3, repeats=1, low_csat=2) == 9

    def test_pain_index_with_warning_runs(self) -> None:
        assert pain_index(complaints=3, repeats=1, low_csat=2, warning_runs=2) == 11
        # not known (evaluation-svc did not answer): the index of the other components
        assert pain_index(complaints=3, repeats=1, low_csat=2, warning_runs=None) == 9

    def test_warning_runs_per_customer(self) -> None:
        assert warning_runs_per_customer(["C-1", "C-2", "C-1", None]) == {"C-1": 2, "C-2": 1}


def event(external_id: str, customer: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"source": "crm", "external_id": external_id, "customer": customer, "type": kind, "at": at, **extra}


async def send(client: httpx.AsyncClient, body: dict[str, Any], expected: int = 201) -> dict[str, Any]:
    response = await client.post("/v1/customer-events", json=body)
    assert response.status_code == expected, response.text
    result: dict[str, Any] = response.json()
    return result


class TestCustomerEvents:
    async def test_the_same_event_twice_is_stored_once_and_other_content_conflicts(
        self, client: httpx.AsyncClient
    ) -> None:
        body = event("E-1", "C-1", "joined", "2026-01-05T00:00:00Z", plan="basic")
        first = await send(client, body)
        again = await send(client, body, expected=200)
        assert again["id"] == first["id"]
        changed = await client.post("/v1/customer-events", json={**body, "type": "left"})
        assert changed.status_code == 409
        assert "external_id" in changed.text

    async def test_a_future_instant_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/customer-events", json=event("E-2", "C-1", "left", "2199-01-01T00:00:00Z"))
        assert response.status_code == 422
        assert "body.at" in response.text

    async def test_an_unknown_type_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/customer-events", json=event("E-1", "C-1", "moved", "2026-01-05T00:00:00Z"))
        assert response.status_code == 422
        assert "type" in response.text


class TestChurn:
    async def test_left_over_active_at_the_start_of_each_month(self, client: httpx.AsyncClient) -> None:
        # four customers joined in January; in February one leaves, one joins and leaves again; in March one
        for i in range(4):
            await send(client, event(f"J{i}", f"C-{i}", "joined", "2026-01-10T00:00:00Z"))
        await send(client, event("L0", "C-0", "left", "2026-02-10T00:00:00Z"))
        await send(client, event("J9", "C-9", "joined", "2026-02-11T00:00:00Z"))
        await send(client, event("L9", "C-9", "left", "2026-02-20T00:00:00Z"))
        await send(client, event("P1", "C-1", "plan_changed", "2026-02-21T00:00:00Z", plan="pro"))
        await send(client, event("L1", "C-1", "left", "2026-03-02T00:00:00Z"))
        response = await client.get(
            "/v1/customers/churn", params={"from": "2026-02-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
        )
        assert response.status_code == 200, response.text
        rows = [(r["active_at_start"], r["left"], r["joined"], r["churn_rate"]) for r in response.json()["periods"]]
        assert rows == [(4, 1, 1, 0.25), (3, 1, 0, 0.3333)]  # March: C-1, C-2, C-3 active, C-1 left

    async def test_too_many_periods_are_refused(self, client: httpx.AsyncClient) -> None:
        params = {"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "bucket": "day"}
        response = await client.get("/v1/customers/churn", params=params)
        assert response.status_code == 422
        assert "query.to" in response.text


class TestPainPoints:
    async def test_complaints_repeats_and_low_csat_rank_customers(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket("T-1", "fault-repair", customer_ref="C-2")
        upstreams.tracking.add_ticket("T-2", "fault-repair", customer_ref="C-3")
        for ticket, csat in (("T-1", 1), ("T-2", 4)):
            sent = await client.post("/v1/feedback", json={"ticket_id": ticket, "csat": csat, "channel": "sms"})
            assert sent.status_code == 201, sent.text
        at = "2026-03-03T10:00:00+08:00"
        await file(client, customer="C-1", category="billing", received_at=at)
        await file(client, customer="C-1", category="billing", received_at="2026-03-04T10:00:00+08:00")
        await file(client, customer="C-1", category="outage", received_at=at)
        await file(client, customer="C-2", category="billing", received_at=at)
        response = await client.get("/v1/customers/pain-points")
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [(p["customer"], p["index"], p["complaints"], p["repeats"]) for p in items] == [
            ("C-1", 7, 3, 1),
            ("C-2", 3, 1, 0),  # one complaint and one CSAT of 1; C-3's CSAT of 4 is no pain
        ]
        assert items[1]["low_csat"] == 1
        assert items[0]["by_category"] == [
            {"category": "billing", "complaints": 2, "repeats": 1},
            {"category": "outage", "complaints": 1, "repeats": 0},
        ]
        first = await client.get("/v1/customers/pain-points", params={"limit": 1})
        second = await client.get(
            "/v1/customers/pain-points", params={"limit": 1, "cursor": first.json()["next_cursor"]}
        )
        assert [p["customer"] for p in second.json()["items"]] == ["C-2"]


MARCH = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00"}


class TestPainPointsWithWarningRuns:
    async def test_warning_runs_of_evaluation_count_per_customer(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        await file(client, customer="C-1", category="billing", received_at="2026-03-03T10:00:00+08:00")
        await file(client, customer="C-1", category="billing", received_at="2026-03-04T10:00:00+08:00")
        for customer, state in (
            ("C-1", "completed_warning"),
            ("C-1", "in_progress_warning"),
            ("C-4", "completed_warning"),  # a customer with warning runs only
            ("C-4", "completed_warning"),
            ("C-4", "in_progress_warning"),
            (None, "completed_warning"),  # a ticket without customer: nobody's
        ):
            upstreams.evaluation.run_in(customer, state)
        upstreams.evaluation.run_in("C-1", "completed_warning", kind="ticket")  # end to end: another population
        upstreams.evaluation.run_in("C-1", "completed_acceptable")
        response = await client.get("/v1/customers/pain-points", params=MARCH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["unavailable"] == {}
        # C-1: 2 x 2 complaints + 1 repeat + 2 warning runs = 7; C-4: 3 warning runs
        assert [(p["customer"], p["index"], p["complaints"], p["warning_runs"]) for p in body["items"]] == [
            ("C-1", 7, 2, 2),
            ("C-4", 3, 0, 3),
        ]
        asked = [dict(r.url.params) for r in upstreams.evaluation.requests if r.url.path == "/v1/reports/status/runs"]
        assert {(a["state"], a["scope"], a["from"], a["to"]) for a in asked} == {
            (state, "node", "2026-02-28T16:00:00+00:00", "2026-03-31T16:00:00+00:00")
            for state in ("completed_warning", "in_progress_warning")
        }
        one = await client.get("/v1/customers/pain-points", params={**MARCH, "customer": "C-4"})
        assert [(p["customer"], p["index"]) for p in one.json()["items"]] == [("C-4", 3)]

    async def test_evaluation_down_leaves_warning_runs_out_and_says_so(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        await file(client, customer="C-1", category="billing", received_at="2026-03-03T10:00:00+08:00")
        upstreams.evaluation.run_in("C-1", "completed_warning")
        upstreams.evaluation.down = True
        response = await client.get("/v1/customers/pain-points", params=MARCH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "evaluation-svc is unavailable" in body["unavailable"]["warning_runs"]
        assert [(p["customer"], p["index"], p["warning_runs"]) for p in body["items"]] == [("C-1", 2, None)]

    async def test_without_a_period_warning_runs_are_not_read(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        await file(client, customer="C-1", category="billing", received_at="2026-03-03T10:00:00+08:00")
        body = (await client.get("/v1/customers/pain-points")).json()
        assert "from" in body["unavailable"]["warning_runs"]
        assert body["items"][0]["warning_runs"] is None
        assert not upstreams.evaluation.requests
