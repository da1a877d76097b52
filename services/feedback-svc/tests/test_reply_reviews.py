"""Reply reviews (a reviewer's verdict on a reply given to a customer) and reply accuracy (real Postgres)."""

from typing import Any

import httpx
from feedback_svc.config import Settings
from feedback_svc.replies.rules import reply_accuracy
from test_complaints import file
from test_source_bound_callers import bound_to
from upstreams import Upstreams

MARCH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


def review(reply: str, accurate: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "crm",
        "reply": reply,
        "inquiry": f"INQ-{reply}",
        "department": "customer-service",
        "category": "billing",
        "replied_at": "2026-03-10T09:00:00Z",
        "accurate": accurate,
        "reviewer": "zhao",
    }
    if not accurate:
        body["reason"] = "quoted the old tariff"
    body.update(extra)
    return body


async def send(client: httpx.AsyncClient, body: dict[str, Any], expected: int = 201) -> dict[str, Any]:
    response = await client.post("/v1/reply-reviews", json=body)
    assert response.status_code == expected, response.text
    result: dict[str, Any] = response.json()
    return result


class TestWorkedExample:
    def test_accurate_over_reviewed(self) -> None:
        assert reply_accuracy(reviewed=20, accurate=18) == 0.9
        assert reply_accuracy(reviewed=0, accurate=0) is None


class TestRecordReview:
    async def test_the_same_review_twice_is_stored_once_and_another_verdict_conflicts(
        self, client: httpx.AsyncClient
    ) -> None:
        body = review("R-1")
        first = await send(client, body)
        assert (first["reply"], first["inquiry"], first["accurate"], first["department"]) == (
            "R-1",
            "INQ-R-1",
            True,
            "customer-service",
        )
        again = await send(client, body, expected=200)
        assert again["id"] == first["id"]
        changed = await client.post("/v1/reply-reviews", json={**body, "accurate": False, "reason": "wrong"})
        assert changed.status_code == 409
        assert "body.reply" in changed.text

    async def test_a_review_of_a_complaint_reply_takes_the_complaints_department_process_and_category(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.processes.add("fault-repair")
        complaint = await file(
            client, category="outage", process="fault-repair", received_at="2026-03-02T08:00:00+00:00"
        )
        body = review("R-2", complaint=complaint["id"])
        del body["inquiry"], body["department"], body["category"]
        stored = await send(client, body)
        assert (stored["complaint"], stored["department"], stored["process"], stored["category"]) == (
            complaint["id"],
            "call-centre",
            "fault-repair",
            "outage",
        )

    async def test_an_inaccurate_reply_without_a_reason_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/reply-reviews", json=review("R-3", accurate=False, reason=None))
        assert response.status_code == 422
        assert "body.reason" in response.text

    async def test_neither_or_both_of_complaint_and_inquiry_name_the_field(self, client: httpx.AsyncClient) -> None:
        neither = review("R-4")
        del neither["inquiry"]
        response = await client.post("/v1/reply-reviews", json=neither)
        assert response.status_code == 422
        assert "body.complaint" in response.text
        both = review("R-4", complaint="00000000-0000-4000-8000-000000000001")
        response = await client.post("/v1/reply-reviews", json=both)
        assert response.status_code == 422
        assert "body.complaint" in response.text

    async def test_an_unknown_complaint_names_the_field(self, client: httpx.AsyncClient) -> None:
        body = review("R-5", complaint="00000000-0000-4000-8000-000000000001")
        del body["inquiry"]
        response = await client.post("/v1/reply-reviews", json=body)
        assert response.status_code == 422
        assert "body.complaint" in response.text

    async def test_an_inquiry_reply_needs_its_department_and_category(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/reply-reviews", json=review("R-6", department=None))
        assert response.status_code == 422
        assert "body.department" in response.text
        response = await client.post("/v1/reply-reviews", json=review("R-6", category=None))
        assert response.status_code == 422
        assert "body.category" in response.text

    async def test_an_unknown_process_names_the_field(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/reply-reviews", json=review("R-7", process="no-such-process"))
        assert response.status_code == 422
        assert "body.process" in response.text

    async def test_a_review_before_the_reply_or_in_the_future_names_the_field(self, client: httpx.AsyncClient) -> None:
        early = review("R-8", reviewed_at="2026-03-09T09:00:00Z")
        response = await client.post("/v1/reply-reviews", json=early)
        assert response.status_code == 422
        assert "body.reviewed_at" in response.text
        response = await client.post("/v1/reply-reviews", json=review("R-8", replied_at="2199-01-01T00:00:00Z"))
        assert response.status_code == 422
        assert "body.replied_at" in response.text

    async def test_a_bound_caller_records_reviews_of_its_own_sources_only(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        headers = bound_to(settings, "billing")
        response = await client.post("/v1/reply-reviews", json=review("R-9"), headers=headers)
        assert response.status_code == 422
        assert "body.source" in response.text
        await send(client, review("R-9"))
        await client.post("/v1/reply-reviews", json=review("R-10", source="billing"), headers=headers)
        seen = await client.get("/v1/reply-reviews", headers=headers)
        assert [r["reply"] for r in seen.json()["items"]] == ["R-10"]


class TestReplyAccuracy:
    async def test_accurate_over_reviewed_replies_given_in_the_period_by_department(
        self, client: httpx.AsyncClient
    ) -> None:
        # customer-service: 4 reviewed in March, 3 accurate; billing-office: 1 reviewed, not accurate
        for i, accurate in enumerate((True, True, True, False)):
            await send(client, review(f"CS-{i}", accurate=accurate))
        await send(client, review("BO-1", accurate=False, department="billing-office", category="meter"))
        # given in February, reviewed in March: not in March's population
        await send(client, review("CS-FEB", replied_at="2026-02-27T09:00:00Z", reviewed_at="2026-03-02T09:00:00Z"))
        response = await client.get("/v1/reply-reviews/metrics", params={**MARCH, "group_by": "department"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["totals"]["reviewed"], body["totals"]["accurate"], body["totals"]["accuracy"]) == (5, 3, 0.6)
        assert [(g["department"], g["reviewed"], g["inaccurate"], g["accuracy"]) for g in body["groups"]] == [
            ("billing-office", 1, 1, 0.0),
            ("customer-service", 4, 1, 0.75),
        ]
        by_category = await client.get(
            "/v1/reply-reviews/metrics", params={**MARCH, "group_by": "category", "department": "customer-service"}
        )
        assert [(g["category"], g["accuracy"]) for g in by_category.json()["groups"]] == [("billing", 0.75)]

    async def test_a_period_without_reviews_has_no_accuracy(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reply-reviews/metrics", params=MARCH)
        assert response.status_code == 200, response.text
        assert response.json()["totals"] == {
            "period": None,
            "department": None,
            "process": None,
            "category": None,
            "reviewed": 0,
            "accurate": 0,
            "inaccurate": 0,
            "accuracy": None,
        }

    async def test_an_unknown_dimension_or_parameter_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reply-reviews/metrics", params={"group_by": "node"})
        assert response.status_code == 422
        assert "group_by" in response.text
        response = await client.get("/v1/reply-reviews/metrics", params={"reviewer": "zhao"})
        assert response.status_code == 422
        assert "reviewer" in response.text
