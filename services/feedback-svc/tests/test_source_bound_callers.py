"""Callers bound to source systems see the feedback and complaints about their own tickets only.

The source is the ticket's, kept when a feedback or complaint names a ticket; rows without one (no
ticket, or written before sources were kept) only callers bound to no source see.
"""

from typing import Any

import httpx
import pytest
from feedback_svc.config import Settings
from pledge_common.identity import Caller, identity_headers, verify_identity
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from upstreams import Upstreams

BILL = "b1110000-0000-4000-8000-000000000001"  # the billing ticket (tracking ids are UUIDs)
COMPLAINT = {
    "channel": "phone",
    "category": "billing",
    "severity": "general",
    "description": "charged twice for March",
    "received_by": {"department": "call-centre", "person": "wang"},
}
RESOLVE = {"resolution": "refunded", "root_cause": "billing-system"}


def bound_to(settings: Settings, *sources: str) -> dict[str, str]:
    caller = Caller(sub=f"key-{'-'.join(sources)}", kind="key", scopes=frozenset({"admin"}), sources=frozenset(sources))
    return identity_headers(caller, settings.service_token)


@pytest.fixture
def tickets(upstreams: Upstreams) -> None:
    upstreams.tracking.add_ticket("T-CRM", "fault-repair", customer_ref="C-1", source="crm")
    upstreams.tracking.add_ticket("T-CRM-2", "fault-repair", customer_ref="C-3", source="crm")
    upstreams.tracking.add_ticket(BILL, "fault-repair", customer_ref="C-2", source="billing")


async def file(client: httpx.AsyncClient, customer_ref: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/v1/complaints", json={**COMPLAINT, "customer": customer_ref, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def complaints(client: httpx.AsyncClient, tickets: None) -> dict[str, dict[str, Any]]:
    """One complaint about a crm ticket, one about a billing ticket, one about no ticket (filed unbound)."""
    return {
        "crm": await file(client, "C-1", ticket_id="T-CRM"),
        "billing": await file(client, "C-2", ticket_id=BILL),
        "none": await file(client, "C-0", process="fault-repair"),
    }


async def give(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/feedback", json={"channel": "sms", **body})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def feedback(client: httpx.AsyncClient, tickets: None) -> dict[str, dict[str, Any]]:
    return {
        "crm": await give(client, ticket_id="T-CRM", csat=5),
        "billing": await give(client, ticket_id=BILL, csat=1),
        "none": await give(client, process="fault-repair", csat=2),
    }


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


class TestComplaints:
    async def test_a_complaint_keeps_the_source_of_its_ticket(
        self, client: httpx.AsyncClient, session: AsyncSession, complaints: dict[str, dict[str, Any]]
    ) -> None:
        assert (complaints["crm"]["source"], complaints["billing"]["source"], complaints["none"]["source"]) == (
            "crm", "billing", None,
        )  # fmt: skip
        stored = await session.execute(text("SELECT customer_ref, source FROM complaints ORDER BY customer_ref"))
        assert stored.all() == [("C-0", None), ("C-1", "crm"), ("C-2", "billing")]

    async def test_a_bound_caller_lists_only_complaints_about_its_sources(
        self, client: httpx.AsyncClient, settings: Settings, complaints: dict[str, dict[str, Any]]
    ) -> None:
        crm = await client.get("/v1/complaints", headers=bound_to(settings, "crm"))
        assert ids(crm) == {complaints["crm"]["id"]}
        assert crm.json()["items"][0]["source"] == "crm"
        both = await client.get("/v1/complaints", headers=bound_to(settings, "crm", "billing"))
        assert ids(both) == {complaints["crm"]["id"], complaints["billing"]["id"]}
        assert ids(await client.get("/v1/complaints")) == {c["id"] for c in complaints.values()}

    async def test_filters_and_pages_stay_within_the_callers_sources(
        self, client: httpx.AsyncClient, settings: Settings, complaints: dict[str, dict[str, Any]]
    ) -> None:
        second = await file(client, "C-3", ticket_id="T-CRM-2")
        headers = bound_to(settings, "crm")
        first_page = await client.get("/v1/complaints", params={"limit": 1}, headers=headers)
        assert first_page.json()["next_cursor"] is not None
        rest = await client.get(
            "/v1/complaints", params={"limit": 1, "cursor": first_page.json()["next_cursor"]}, headers=headers
        )
        assert ids(first_page) | ids(rest) == {complaints["crm"]["id"], second["id"]}
        assert rest.json()["next_cursor"] is None
        other = await client.get("/v1/complaints", params={"ticket_id": BILL}, headers=headers)
        assert ids(other) == set()

    async def test_a_bound_caller_cannot_read_or_change_another_sources_complaint(
        self, client: httpx.AsyncClient, settings: Settings, complaints: dict[str, dict[str, Any]]
    ) -> None:
        headers = bound_to(settings, "crm")
        for hidden in (complaints["billing"]["id"], complaints["none"]["id"]):
            assert (await client.get(f"/v1/complaints/{hidden}", headers=headers)).status_code == 404
            moved = await client.post(
                f"/v1/complaints/{hidden}/transitions", json={"to": "acknowledged"}, headers=headers
            )
            assert moved.status_code == 404
            transfer = {"to": {"department": "x"}, "reason": "not ours"}
            assert (
                await client.post(f"/v1/complaints/{hidden}/transfers", json=transfer, headers=headers)
            ).status_code == 404
        own = complaints["crm"]["id"]
        assert (await client.get(f"/v1/complaints/{own}", headers=headers)).status_code == 200
        moved = await client.post(f"/v1/complaints/{own}/transitions", json={"to": "acknowledged"}, headers=headers)
        assert moved.status_code == 200, moved.text
        assert (await client.get(f"/v1/complaints/{complaints['billing']['id']}")).json()["status"] == "received"

    async def test_rows_written_before_sources_were_kept_are_for_unbound_callers_only(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        settings: Settings,
        complaints: dict[str, dict[str, Any]],
    ) -> None:
        await session.execute(text("UPDATE complaints SET source = NULL WHERE ticket_id = 'T-CRM'"))
        assert ids(await client.get("/v1/complaints", headers=bound_to(settings, "crm"))) == set()
        assert complaints["crm"]["id"] in ids(await client.get("/v1/complaints"))

    async def test_a_caller_bound_to_no_source_at_all_sees_none(
        self, client: httpx.AsyncClient, settings: Settings, complaints: dict[str, dict[str, Any]]
    ) -> None:
        assert ids(await client.get("/v1/complaints", headers=bound_to(settings))) == set()

    async def test_metrics_count_the_callers_sources_only(
        self, client: httpx.AsyncClient, settings: Settings, complaints: dict[str, dict[str, Any]]
    ) -> None:
        response = await client.get("/v1/complaints/metrics", headers=bound_to(settings, "crm"))
        assert response.status_code == 200, response.text
        assert response.json()["totals"]["received"] == 1
        # 1 complaint about the 2 crm tickets of the process (the billing ticket is not counted)
        assert response.json()["per_1000_tickets"] == [
            {"process": "fault-repair", "complaints": 1, "tickets": 2, "per_1000_tickets": 500.0}
        ]
        everyone = (await client.get("/v1/complaints/metrics")).json()
        assert everyone["totals"]["received"] == 3


class TestFeedback:
    async def test_feedback_keeps_the_source_of_its_ticket(
        self, client: httpx.AsyncClient, feedback: dict[str, dict[str, Any]]
    ) -> None:
        assert [feedback[k]["source"] for k in ("crm", "billing", "none")] == ["crm", "billing", None]

    async def test_a_bound_caller_lists_only_feedback_on_its_sources(
        self, client: httpx.AsyncClient, settings: Settings, feedback: dict[str, dict[str, Any]]
    ) -> None:
        assert ids(await client.get("/v1/feedback", headers=bound_to(settings, "billing"))) == {
            feedback["billing"]["id"]
        }
        assert ids(await client.get("/v1/feedback")) == {f["id"] for f in feedback.values()}

    async def test_a_bound_caller_cannot_read_or_correct_another_sources_feedback(
        self, client: httpx.AsyncClient, settings: Settings, feedback: dict[str, dict[str, Any]]
    ) -> None:
        headers = bound_to(settings, "crm")
        hidden = feedback["billing"]["id"]
        assert (await client.get(f"/v1/feedback/{hidden}", headers=headers)).status_code == 404
        assert (await client.patch(f"/v1/feedback/{hidden}", json={"csat": 5}, headers=headers)).status_code == 404
        assert (await client.get(f"/v1/feedback/{hidden}")).json()["csat"] == 1
        own = feedback["crm"]["id"]
        corrected = await client.patch(f"/v1/feedback/{own}", json={"csat": 4}, headers=headers)
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["csat"] == 4

    async def test_the_summary_counts_the_callers_sources_only(
        self, client: httpx.AsyncClient, settings: Settings, feedback: dict[str, dict[str, Any]]
    ) -> None:
        mine = (await client.get("/v1/feedback/summary", headers=bound_to(settings, "crm"))).json()["totals"]
        assert (mine["responses"], mine["csat"]) == (1, 1.0)
        everyone = (await client.get("/v1/feedback/summary")).json()["totals"]
        assert everyone["responses"] == 3


ACTION = {
    "title": "second dispatcher at peak hours",
    "description": "dispatch is the slowest node",
    "owner_department": "ops",
    "due_date": "2026-04-30",
    "links": [{"kind": "recommendation", "ref": "rec-dispatch"}],
}


async def open_action(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    response = await client.post("/v1/corrective-actions", json={**ACTION, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class TestCorrectiveActions:
    """An action names no ticket: it belongs to the sources of the partner that opened it."""

    async def test_a_bound_caller_lists_only_the_actions_it_opened(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        crm = await open_action(client, bound_to(settings, "crm"))
        billing = await open_action(client, bound_to(settings, "billing"))
        unbound = await open_action(client, {})
        assert ids(await client.get("/v1/corrective-actions", headers=bound_to(settings, "crm"))) == {crm["id"]}
        both = await client.get("/v1/corrective-actions", headers=bound_to(settings, "crm", "billing"))
        assert ids(both) == {crm["id"], billing["id"]}
        assert ids(await client.get("/v1/corrective-actions")) == {crm["id"], billing["id"], unbound["id"]}
        assert ids(await client.get("/v1/corrective-actions", headers=bound_to(settings))) == set()

    async def test_a_bound_caller_cannot_read_or_move_another_partners_action(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        headers = bound_to(settings, "crm")
        for hidden in (
            await open_action(client, bound_to(settings, "billing")),
            await open_action(client, bound_to(settings, "crm", "billing")),
            await open_action(client, {}),
        ):
            url = f"/v1/corrective-actions/{hidden['id']}"
            assert (await client.get(url, headers=headers)).status_code == 404
            moved = await client.post(f"{url}/transitions", json={"to": "in_progress"}, headers=headers)
            assert moved.status_code == 404
            assert (await client.get(url)).json()["status"] == "open"
        own = await open_action(client, headers)
        assert (await client.get(f"/v1/corrective-actions/{own['id']}", headers=headers)).status_code == 200
        moved = await client.post(
            f"/v1/corrective-actions/{own['id']}/transitions", json={"to": "in_progress"}, headers=headers
        )
        assert moved.status_code == 200, moved.text

    async def test_a_bound_caller_links_only_complaints_it_can_see(
        self, client: httpx.AsyncClient, settings: Settings, complaints: dict[str, dict[str, Any]]
    ) -> None:
        headers = bound_to(settings, "crm")
        for hidden in ("billing", "none"):
            links = [{"kind": "complaint", "ref": complaints[hidden]["id"]}]
            refused = await client.post("/v1/corrective-actions", json={**ACTION, "links": links}, headers=headers)
            assert refused.status_code == 422, refused.text
            assert refused.json()["errors"] == [
                {"field": "links.0.ref", "message": f"no complaint {complaints[hidden]['id']}"}
            ]
        own = [{"kind": "complaint", "ref": complaints["crm"]["id"]}]
        assert (await open_action(client, headers, links=own))["links"] == own

    async def test_effectiveness_asks_evaluation_for_the_callers_sources(
        self, client: httpx.AsyncClient, settings: Settings, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.processes.add("fault-repair")
        headers = bound_to(settings, "crm")
        action = await open_action(client, headers, process="fault-repair")
        for to in ("in_progress", "done"):
            moved = await client.post(
                f"/v1/corrective-actions/{action['id']}/transitions", json={"to": to}, headers=headers
            )
            assert moved.status_code == 200, moved.text
        asked = [r for r in upstreams.evaluation.requests if r.url.path == "/v1/reports/achievement"]
        assert asked
        seen = {verify_identity(r.headers, settings.service_token).sources for r in asked}  # type: ignore[union-attr]
        assert seen == {frozenset({"crm"})}


def servqual(expectation: int, perception: int) -> dict[str, Any]:
    return {"answers": [{"item": i, "expectation": expectation, "perception": perception} for i in ITEMS]}


ITEMS = ["R1", "E1"]
MINI = {
    "key": "mini",
    "name": "Mini",
    "dimensions": ["reliability", "empathy"],
    "items": [
        {"key": "R1", "dimension": "reliability", "text": "on time"},
        {"key": "E1", "dimension": "empathy", "text": "attention"},
    ],
}


class TestSurveyResults:
    """A response names no ticket: it belongs to the sources of the partner that sent it."""

    async def test_a_bound_caller_gets_the_results_of_the_responses_it_sent(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        assert (await client.post("/v1/surveys", json=MINI)).status_code == 201
        for headers, body in (
            (bound_to(settings, "crm"), servqual(5, 3)),  # gap -2
            (bound_to(settings, "billing"), servqual(4, 5)),  # gap +1
            ({}, servqual(6, 6)),  # gap 0
        ):
            response = await client.post("/v1/surveys/mini/responses", json=body, headers=headers)
            assert response.status_code == 201, response.text

        async def score(headers: dict[str, str]) -> tuple[int, float | None]:
            response = await client.get("/v1/surveys/mini/results", headers=headers)
            assert response.status_code == 200, response.text
            groups = response.json()["groups"]
            return (groups[0]["responses"], groups[0]["servqual"]) if groups else (0, None)

        assert await score(bound_to(settings, "crm")) == (1, -2.0)
        assert await score(bound_to(settings, "crm", "billing")) == (2, -0.5)
        assert await score(bound_to(settings)) == (0, None)
        assert await score({}) == (3, round(-1 / 3, 3))
