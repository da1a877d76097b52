"""Complaint tickets of source systems become complaints, once each (tracking's feed applied by its handler)."""

from typing import Any

import httpx
from fastapi import FastAPI
from feedback_svc.complaints.intake import complaint_of_ticket, handle_tracking
from pledge_common.outbox import FeedEvent
from sqlalchemy.ext.asyncio import AsyncSession

PROCESSES = frozenset({"complaint-handling"})


def ticket(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "0b9e4a3c-1111-4d3b-9c7e-1b2a3c4d5e6f",
        "source": "crm",
        "external_id": "TS-77",
        "process_key": "complaint-handling",
        "customer_ref": "C-1",
        "segment": None,
        "status": "open",
        "opened_at": "2026-03-04T09:00:00+08:00",
        "closed_at": None,
        "cancelled_at": None,
        "attributes": {"category": "billing", "severity": "major", "department": "county-a"},
        "pauses": [],
    }
    payload.update(overrides)
    return payload


def event(payload: dict[str, Any], seq: int = 1, kind: str = "ticket.upserted") -> FeedEvent:
    return FeedEvent(cursor=str(seq), seq=seq, type=kind, key=str(payload.get("id")), payload=payload, occurred_at="x")


class TestWhichTicketsAreComplaints:
    def test_a_source_systems_complaint_ticket_is_read_with_its_attributes(self) -> None:
        found = complaint_of_ticket(ticket(), PROCESSES, "customer-service")
        assert found is not None
        assert (found.source, found.category, found.severity, found.department) == (
            "crm",
            "billing",
            "major",
            "county-a",
        )

    def test_defaults_when_the_source_sends_no_attributes(self) -> None:
        found = complaint_of_ticket(ticket(attributes={"severity": "huge"}), PROCESSES, "customer-service")
        assert found is not None
        assert (found.category, found.severity, found.department) == ("unspecified", "general", "customer-service")

    def test_other_processes_own_tickets_and_bad_instants_are_not_complaints(self) -> None:
        assert complaint_of_ticket(ticket(process_key="fault-repair"), PROCESSES, "d") is None
        assert complaint_of_ticket(ticket(source="feedback-svc"), PROCESSES, "d") is None
        assert complaint_of_ticket(ticket(opened_at=None), PROCESSES, "d") is None
        assert complaint_of_ticket(ticket(opened_at="yesterday"), PROCESSES, "d") is None
        assert complaint_of_ticket(ticket(opened_at="2026-03-04T09:00:00"), PROCESSES, "d") is None


class TestLinking:
    async def test_each_ticket_becomes_one_complaint_counted_in_the_metrics(
        self, app: FastAPI, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        settings = app.state.settings
        first = ticket()
        later = ticket(
            id="0b9e4a3c-2222-4d3b-9c7e-1b2a3c4d5e6f", external_id="TS-78", opened_at="2026-03-06T09:00:00+08:00"
        )
        await handle_tracking(session, settings, [event(first), event(first, 2), event(ticket(process_key="x"), 3)])
        await handle_tracking(session, settings, [event(first, 4), event(later, 5)])  # the feed re-sends
        await session.commit()
        listed = (await client.get("/v1/complaints")).json()["items"]
        assert len(listed) == 2
        older = next(c for c in listed if c["repeat_of"] is None)
        newer = next(c for c in listed if c["repeat_of"] is not None)
        assert newer["repeat_of"] == older["id"]  # same customer and category within the window
        detail = (await client.get(f"/v1/complaints/{older['id']}")).json()
        assert (detail["source"], detail["owner"]["department"], detail["status"]) == ("crm", "county-a", "received")
        assert detail["tracking"]["pending_events"] == 0  # the source system runs its own ticket
        totals = (await client.get("/v1/complaints/metrics")).json()["totals"]
        assert (totals["received"], totals["repeats"]) == (2, 1)
