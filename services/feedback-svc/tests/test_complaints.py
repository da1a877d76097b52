"""Complaints: ownership, workflow, tracking commands, repeats, metrics (real Postgres; upstreams at the edge)."""

import base64
import io
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from feedback_svc.complaints.sender import deliver_pass
from pledge_common.exports import XLSX
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from upstreams import Upstreams

TICKET_L = "5f0c2d9e-8a41-4d3b-9c7e-1b2a3c4d5e6f"
PROBLEM = "application/problem+json"


def forge(values: list[Any]) -> str:
    """A hand-made cursor-looking string carrying any JSON list."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def complaint_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "phone",
        "customer": "C-1",
        "category": "billing",
        "severity": "general",
        "description": "charged twice for March",
        "received_by": {"department": "call-centre", "person": "wang"},
    }
    body.update(overrides)
    return body


async def file(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/complaints", json=complaint_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def move(client: httpx.AsyncClient, complaint_id: str, to: str, **extra: Any) -> httpx.Response:
    return await client.post(f"/v1/complaints/{complaint_id}/transitions", json={"to": to, **extra})


async def deliver(app: FastAPI, session: AsyncSession) -> Any:
    return await deliver_pass(session, app.state.tracking, app.state.settings)


RESOLVE = {"resolution": "refunded the double charge", "root_cause": "billing-system"}
CLOSE = {"customer_confirmed": True, "confirmation_note": "customer agreed by phone"}


class TestFileComplaint:
    async def test_first_receiver_owns_the_new_complaint(self, client: httpx.AsyncClient) -> None:
        complaint = await file(client)
        assert complaint["status"] == "received"
        assert complaint["owner"] == {"department": "call-centre", "person": "wang"}
        assert complaint["received_by"] == complaint["owner"]
        assert [(o["department"], o["until"]) for o in complaint["ownership"]] == [("call-centre", None)]
        assert complaint["history"][0]["to_status"] == "received"
        assert complaint["allowed_transitions"] == ["acknowledged"]

    async def test_filing_opens_a_complaint_handling_ticket_with_the_severity_as_segment(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        complaint = await file(client, severity="major")
        assert complaint["tracking"]["pending_events"] == 2
        report = await deliver(app, session)
        assert report.delivered == 2
        opened, started = upstreams.tracking.events
        assert opened["type"] == "ticket.opened"
        assert opened["source"] == "feedback-svc"
        assert opened["ticket"]["external_id"] == complaint["id"]
        assert opened["ticket"]["process"] == "complaint-handling"
        assert opened["ticket"]["segment"] == "major"
        assert opened["occurred_at"] == datetime.fromisoformat(complaint["received_at"]).isoformat()
        assert (started["type"], started["node"]) == ("node.started", "acknowledge")
        after = (await client.get(f"/v1/complaints/{complaint['id']}")).json()
        assert after["tracking"]["pending_events"] == 0
        assert after["tracking"]["ticket_id"] == f"t-{complaint['id']}"

    async def test_a_complaint_about_a_ticket_takes_its_process(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket("T-7", "fault-repair", customer_ref="C-1")
        complaint = await file(client, ticket_id="T-7")
        assert complaint["process"] == "fault-repair"

    async def test_unknown_ticket_is_422_naming_ticket_id(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/complaints", json=complaint_body(ticket_id="nope"))
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "ticket_id"

    @pytest.mark.parametrize("ticket_id", ["\u0007bell", "a?b#c", "../../internal/feed", "100%"])
    async def test_a_ticket_id_unfit_for_a_url_is_an_unknown_ticket_not_a_500(
        self, client: httpx.AsyncClient, ticket_id: str
    ) -> None:
        response = await client.post("/v1/complaints", json=complaint_body(ticket_id=ticket_id))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "ticket_id"

    async def test_a_ticket_reference_with_a_slash_reaches_tracking_whole(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket("crm:WO/7?", "fault-repair")
        assert (await file(client, ticket_id="crm:WO/7?"))["process"] == "fault-repair"

    async def test_unknown_severity_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/complaints", json=complaint_body(severity="huge"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "severity"

    async def test_tracking_down_while_checking_the_ticket_is_503(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.down = True
        response = await client.post("/v1/complaints", json=complaint_body(ticket_id="T-7"))
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM


class TestWorkflow:
    async def test_the_whole_workflow_records_who_when_why_and_sends_every_node_event(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        complaint = await file(client)
        cid = complaint["id"]
        assert (await move(client, cid, "acknowledged", by="li", reason="called back")).status_code == 200
        assert (await move(client, cid, "investigating", by="li")).status_code == 200
        resolved = await move(client, cid, "resolved", by="li", **RESOLVE)
        assert resolved.status_code == 200, resolved.text
        closed = await move(client, cid, "closed", by="li", **CLOSE)
        assert closed.status_code == 200, closed.text
        body = closed.json()
        assert body["status"] == "closed"
        assert body["root_cause"] == "billing-system"
        assert body["customer_confirmation"] == {"confirmed": True, "note": "customer agreed by phone"}
        assert [(h["from_status"], h["to_status"], h["by"]) for h in body["history"]] == [
            (None, "received", "wang"),
            ("received", "acknowledged", "li"),
            ("acknowledged", "investigating", "li"),
            ("investigating", "resolved", "li"),
            ("resolved", "closed", "li"),
        ]
        assert body["history"][1]["reason"] == "called back"
        await deliver(app, session)
        sent = [(e["type"], e.get("node")) for e in upstreams.tracking.events]
        assert sent == [
            ("ticket.opened", None),
            ("node.started", "acknowledge"),
            ("node.completed", "acknowledge"),
            ("node.started", "resolve"),
            ("node.completed", "resolve"),
            ("ticket.closed", None),
        ]
        assert upstreams.tracking.events[2]["event_id"] == f"complaint-{cid}-2-acknowledge-completed"

    async def test_resolving_without_root_cause_is_422_naming_root_cause(self, client: httpx.AsyncClient) -> None:
        cid = (await file(client))["id"]
        await move(client, cid, "acknowledged")
        response = await move(client, cid, "resolved", resolution="refunded")
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "root_cause"
        no_resolution = await move(client, cid, "resolved", root_cause="billing-system")
        assert no_resolution.json()["errors"][0]["field"] == "resolution"
        assert (await client.get(f"/v1/complaints/{cid}")).json()["status"] == "acknowledged"

    async def test_closing_an_unresolved_complaint_is_409_naming_its_status(self, client: httpx.AsyncClient) -> None:
        cid = (await file(client))["id"]
        await move(client, cid, "acknowledged")
        response = await move(client, cid, "closed", **CLOSE)
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM
        assert "resolved" in response.json()["detail"]
        assert response.json()["status_now"] == "acknowledged"

    async def test_a_transition_not_allowed_from_the_current_state_is_409_listing_the_allowed(
        self, client: httpx.AsyncClient
    ) -> None:
        cid = (await file(client))["id"]
        response = await move(client, cid, "investigating")
        assert response.status_code == 409
        assert response.json()["allowed"] == ["acknowledged"]
        assert response.json()["errors"][0]["field"] == "to"

    async def test_closing_needs_the_customer_confirmation(self, client: httpx.AsyncClient) -> None:
        cid = (await file(client))["id"]
        await move(client, cid, "acknowledged")
        await move(client, cid, "resolved", **RESOLVE)
        response = await move(client, cid, "closed")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "customer_confirmed"

    async def test_reopening_a_closed_complaint_reopens_the_ticket_and_restarts_resolve(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        cid = (await file(client))["id"]
        await move(client, cid, "acknowledged")
        await move(client, cid, "resolved", **RESOLVE)
        await move(client, cid, "closed", **CLOSE)
        without_reason = await move(client, cid, "reopened")
        assert without_reason.status_code == 422
        assert without_reason.json()["errors"][0]["field"] == "reason"
        reopened = await move(client, cid, "reopened", reason="charged again in April")
        assert reopened.json()["status"] == "reopened"
        assert reopened.json()["reopens"] == 1
        assert reopened.json()["customer_confirmation"] is None
        await deliver(app, session)
        assert [(e["type"], e.get("node")) for e in upstreams.tracking.events[-2:]] == [
            ("ticket.reopened", None),
            ("node.started", "resolve"),
        ]

    async def test_a_transition_instant_before_the_last_change_is_422(self, client: httpx.AsyncClient) -> None:
        cid = (await file(client, received_at="2026-03-03T10:00:00+08:00"))["id"]
        response = await move(client, cid, "acknowledged", at="2026-03-03T09:00:00+08:00")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "at"

    async def test_unknown_complaint_is_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await move(client, "00000000-0000-0000-0000-000000000000", "acknowledged")
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM


class TestOwnership:
    async def test_transfer_moves_ownership_and_keeps_the_history(self, client: httpx.AsyncClient) -> None:
        cid = (await file(client))["id"]
        response = await client.post(
            f"/v1/complaints/{cid}/transfers",
            json={"to": {"department": "billing", "person": "zhao"}, "by": "wang", "reason": "billing error"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["owner"] == {"department": "billing", "person": "zhao"}
        assert body["received_by"] == {"department": "call-centre", "person": "wang"}
        assert body["transfers"] == 1
        first, second = body["ownership"]
        assert first["department"] == "call-centre"
        assert first["until"] == second["since"]
        assert (second["department"], second["assigned_by"], second["reason"]) == ("billing", "wang", "billing error")

    async def test_a_closed_complaint_cannot_be_transferred(self, client: httpx.AsyncClient) -> None:
        cid = (await file(client))["id"]
        await move(client, cid, "acknowledged")
        await move(client, cid, "resolved", **RESOLVE)
        await move(client, cid, "closed", **CLOSE)
        response = await client.post(
            f"/v1/complaints/{cid}/transfers", json={"to": {"department": "billing"}, "reason": "late"}
        )
        assert response.status_code == 409


class TestRepeats:
    async def test_same_customer_and_category_within_30_days_is_flagged_and_linked(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await file(client, customer="C-r", received_at="2026-03-01T10:00:00+08:00")
        other_category = await file(client, customer="C-r", category="outage", received_at="2026-03-05T10:00:00+08:00")
        repeat = await file(client, customer="C-r", received_at="2026-03-30T10:00:00+08:00")
        late = await file(client, customer="C-r", received_at="2026-05-15T10:00:00+08:00")
        assert other_category["repeat_of"] is None
        assert repeat["repeat_of"] == first["id"]
        assert late["repeat_of"] is None
        assert (await client.get(f"/v1/complaints/{first['id']}")).json()["repeated_by"] == [repeat["id"]]


class TestDelivery:
    async def test_tracking_down_keeps_the_complaint_and_retries_later_with_the_same_event_ids(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.down = True
        complaint = await file(client)
        report = await deliver(app, session)
        assert (report.delivered, report.failed) == (0, 1)
        state = (await client.get(f"/v1/complaints/{complaint['id']}")).json()["tracking"]
        assert state["pending_events"] == 2
        assert "tracking-svc is unavailable" in state["last_error"]
        upstreams.tracking.down = False
        assert (await deliver(app, session)).delivered == 0  # backed off: not due yet
        await session.execute(text("UPDATE tracking_commands SET next_attempt_at = now() - interval '1 s'"))
        assert (await deliver(app, session)).delivered == 2
        # a redelivery (e.g. the answer was lost) carries the same event id: tracking keeps one event
        await session.execute(text("UPDATE tracking_commands SET status = 'pending'"))
        assert (await deliver(app, session)).delivered == 2
        assert len(upstreams.tracking.events) == 2

    async def test_a_rejected_command_holds_back_the_later_commands_of_that_complaint_only(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.reject_with = 422
        first = await file(client, customer="C-a")
        report = await deliver(app, session)
        assert (report.delivered, report.failed) == (0, 1)  # the head failed; its follower was not tried
        upstreams.tracking.reject_with = None
        second = await file(client, customer="C-b")
        assert (await deliver(app, session)).delivered == 2
        assert {e["ticket"]["external_id"] for e in upstreams.tracking.events} == {second["id"]}
        assert (await client.get(f"/v1/complaints/{first['id']}")).json()["tracking"]["pending_events"] == 2

    def test_backoff_doubles_up_to_the_cap(self) -> None:
        from feedback_svc.complaints.workflow import backoff_seconds

        assert [backoff_seconds(n, 1.0, 30.0) for n in range(7)] == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]


class TestMetrics:
    async def test_closure_first_contact_reopen_and_on_time_rates(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        at = "2026-03-03T10:00:00+08:00"
        quick = (await file(client, customer="M-1", received_at=at))["id"]
        transferred = (await file(client, customer="M-2", received_at=at))["id"]
        reopened = (await file(client, customer="M-3", received_at=at))["id"]
        await file(client, customer="M-4", received_at=at)  # still open
        for cid in (quick, transferred, reopened):
            await move(client, cid, "acknowledged")
        await client.post(f"/v1/complaints/{transferred}/transfers", json={"to": {"department": "x"}, "reason": "r"})
        for cid in (quick, transferred, reopened):
            await move(client, cid, "resolved", **RESOLVE)
            await move(client, cid, "closed", **CLOSE)
        await move(client, reopened, "reopened", reason="again")
        await deliver(app, session)
        for cid, ack_state in ((quick, "completed_normal"), (transferred, "completed_warning")):
            upstreams.evaluation.judge(f"t-{cid}", "acknowledge", ack_state, "PT10M")
            upstreams.evaluation.judge(f"t-{cid}", "resolve", "completed_normal", "PT1H")
        response = await client.get("/v1/complaints/metrics", params={"group_by": "severity"})
        assert response.status_code == 200, response.text
        totals = response.json()["totals"]
        assert (totals["received"], totals["closed"], totals["closure_rate"]) == (4, 2, 0.5)
        assert (totals["resolved"], totals["first_contact_resolved"]) == (3, 1)
        assert totals["first_contact_resolution_rate"] == pytest.approx(1 / 3, abs=1e-4)
        assert (totals["reopened"], totals["reopen_rate"]) == (1, pytest.approx(1 / 3, abs=1e-4))
        # the reopened one has no judgment yet: judged 2, on time 1
        assert (totals["judged"], totals["on_time"], totals["on_time_rate"]) == (2, 1, 0.5)
        assert response.json()["groups"][0]["severity"] == "general"

    async def test_complaints_per_1000_tickets_by_process(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket("T-9", "fault-repair")
        upstreams.tracking.extra_ticket_counts["fault-repair"] = 1999
        await file(client, ticket_id="T-9", customer="P-1")
        await file(client, ticket_id="T-9", customer="P-2")
        body = (await client.get("/v1/complaints/metrics")).json()
        assert body["per_1000_tickets"] == [
            {"process": "fault-repair", "complaints": 2, "tickets": 2000, "per_1000_tickets": 1.0}
        ]
        exported = await client.get("/v1/complaints/metrics", headers={"Accept": XLSX})
        assert exported.status_code == 200, exported.text
        header, *cells = openpyxl.load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True)
        rows = [dict(zip(header, c, strict=True)) for c in cells]
        [total] = [r for r in rows if r["part"] == "total"]
        assert total["received"] == body["totals"]["received"] == 2
        [rate] = [r for r in rows if r["part"] == "per_1000_tickets"]
        assert (rate["process"], rate["tickets"], rate["per_1000_tickets"]) == ("fault-repair", 2000, 1.0)

    async def test_evaluation_down_makes_metrics_503(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession, upstreams: Upstreams
    ) -> None:
        cid = (await file(client))["id"]
        await move(client, cid, "acknowledged")
        await move(client, cid, "resolved", **RESOLVE)
        await deliver(app, session)
        upstreams.evaluation.down = True
        response = await client.get("/v1/complaints/metrics")
        assert response.status_code == 503
        assert "evaluation-svc" in response.json()["detail"]


class TestList:
    async def test_list_filters_and_pages(self, client: httpx.AsyncClient) -> None:
        for n in range(3):
            await file(client, customer=f"L-{n}", received_at=f"2026-03-0{n + 1}T10:00:00+08:00")
        first = (await client.get("/v1/complaints", params={"limit": 2})).json()
        assert [c["customer"] for c in first["items"]] == ["L-2", "L-1"]
        rest = (await client.get("/v1/complaints", params={"limit": 2, "cursor": first["next_cursor"]})).json()
        assert [c["customer"] for c in rest["items"]] == ["L-0"]
        assert rest["next_cursor"] is None
        by_customer = (await client.get("/v1/complaints", params={"customer": "L-1"})).json()
        assert len(by_customer["items"]) == 1

    @pytest.mark.parametrize(
        "raw",
        [
            "@@",  # not base64
            base64.urlsafe_b64encode(b"2026-03-01|x").decode(),  # base64, not JSON
            forge(["2026-03-01T10:00:00+08:00"]),  # one value short
            forge(["yesterday", str(uuid.uuid4())]),  # not an instant
            forge(["2026-03-01T10:00:00+08:00", "not-a-uuid"]),
            forge([17, 18]),
        ],
    )
    @pytest.mark.parametrize("path", ["/v1/complaints", "/v1/feedback", "/v1/corrective-actions"])
    async def test_cursor_not_ours_is_422_naming_cursor(self, client: httpx.AsyncClient, path: str, raw: str) -> None:
        response = await client.get(path, params={"cursor": raw})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]

    async def test_list_by_ticket_finds_the_complaints_about_it(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket(TICKET_L, "fault-repair")
        about = await file(client, ticket_id=TICKET_L, customer="L-t")
        await file(client, customer="L-u")
        listed = (await client.get("/v1/complaints", params={"ticket_id": TICKET_L})).json()["items"]
        assert [c["id"] for c in listed] == [about["id"]]

    async def test_a_complaint_filed_by_source_and_external_id_is_found_by_trackings_id(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.add_ticket("crm:WO-9", "fault-repair")
        upstreams.tracking.tickets["crm:WO-9"]["id"] = TICKET_L  # tracking resolves the reference to its id
        about = await file(client, ticket_id="crm:WO-9", customer="L-r")
        listed = (await client.get("/v1/complaints", params={"ticket_id": TICKET_L})).json()["items"]
        assert [c["id"] for c in listed] == [about["id"]]

    @pytest.mark.parametrize("path", ["/v1/complaints", "/v1/feedback"])
    async def test_a_ticket_id_filter_that_is_not_an_id_is_422(self, client: httpx.AsyncClient, path: str) -> None:
        response = await client.get(path, params={"ticket_id": "crm:WO-9"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "query.ticket_id"
