"""A ticket's end ends its runs (DESIGN A1, A2) and end-to-end runs leave out the union of the allowed pauses
of their node runs (A3, A4), on a real Postgres. The facts are shaped as tracking-svc puts them on its feed."""

from typing import Any

import httpx
from evalfactories import agreement, at, commitment, node_run, process, ticket
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.readmodel.service import Projection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# 24x7 (the built-in calendar); the A examples' day is Tue 2026-03-03, local (+08:00)
NODE_COMMITMENT: dict[str, Any] = {"calendar_key": None, "commitment_limit": "PT2H", "tolerance_limit": "PT3H"}
END_TO_END: dict[str, Any] = {
    "id_": "c-e2e-v1",
    "key": "repair-end-to-end",
    "node_key": None,
    "calendar_key": None,
    "commitment_limit": "PT4H",
    "tolerance_limit": "PT6H",
    "allowed": ("awaiting-customer",),
}


async def row_of(session: AsyncSession, run_id: str) -> dict[str, Any]:
    rows = await session.execute(text("SELECT * FROM node_runs WHERE id = :i"), {"i": run_id})
    return dict(rows.mappings().one())


async def alerts_of(session: AsyncSession, run_id: str) -> list[str]:
    rows = await session.execute(text("SELECT level FROM alerts WHERE node_run_id = :r ORDER BY due_at"), {"r": run_id})
    return [r.level for r in rows]


async def node_setup(session: AsyncSession) -> Projection:
    projection = Projection()
    await projection.handle_commitment(session, [process(), commitment(**NODE_COMMITMENT)])
    return projection


class TestTicketEndEndsItsRuns:
    async def test_a1_a_run_completed_by_its_ticket_s_close_is_judged_at_the_close_and_never_alerted(
        self, session: AsyncSession
    ) -> None:
        # ticket opened 10:00; `repair` started 15:00 (due 17:00, tolerance 18:00); ticket closed 16:00
        projection = await node_setup(session)
        await projection.handle_tracking(
            session,
            [
                node_run("visit", started=at("2026-03-03 15:00")),
                node_run("untouched", started=at("2026-03-03 15:00")),  # a run no ticket ended: the control
            ],
        )
        await projection.handle_tracking(
            session,
            [node_run("visit", started=at("2026-03-03 15:00"), completed=at("2026-03-03 16:00"), ended_by_ticket=True)],
        )
        row = await row_of(session, "visit")
        assert (row["final_state"], row["counted_seconds"], row["ended_by_ticket"]) == (
            "completed_normal",
            3600.0,
            True,
        )
        assert row["next_alert_at"] is None
        await scan_once(session, at("2026-03-03 20:00"), 100)
        assert await alerts_of(session, "visit") == []
        assert await alerts_of(session, "untouched") == ["prewarning", "acceptable", "warning"]

    async def test_a2_a_run_cancelled_by_its_ticket_is_cancelled_and_never_alerted(self, session: AsyncSession) -> None:
        projection = await node_setup(session)
        await projection.handle_tracking(session, [node_run("visit", started=at("2026-03-03 15:00"))])
        await projection.handle_tracking(
            session,
            [node_run("visit", started=at("2026-03-03 15:00"), cancelled=at("2026-03-03 16:00"), ended_by_ticket=True)],
        )
        row = await row_of(session, "visit")
        assert (row["final_state"], row["ended_at"], row["ended_by_ticket"]) == (
            "cancelled",
            at("2026-03-03 16:00"),
            True,
        )
        await scan_once(session, at("2026-03-03 20:00"), 100)
        assert await alerts_of(session, "visit") == []

    async def test_status_runs_show_the_mark_and_count_the_runs_ended_by_their_ticket(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await node_setup(session)
        day = at("2026-03-03 15:00")
        await projection.handle_tracking(
            session,
            [
                node_run("by-ticket-1", started=day, completed=at("2026-03-03 16:00"), ended_by_ticket=True),
                node_run("by-ticket-2", started=day, completed=at("2026-03-03 16:30"), ended_by_ticket=True),
                node_run("by-node", started=day, completed=at("2026-03-03 16:00")),
            ],
        )
        params: dict[str, str | int] = {
            "from": at("2026-03-03 00:00").isoformat(),
            "to": at("2026-03-04 00:00").isoformat(),
            "limit": 2,
        }
        first = (await client.get("/v1/reports/status/runs", params=params)).json()
        second = (await client.get("/v1/reports/status/runs", params={**params, "cursor": first["next_cursor"]})).json()
        marks = {r["id"]: r["ended_by_ticket"] for r in first["items"] + second["items"]}
        assert marks == {"by-ticket-1": True, "by-ticket-2": True, "by-node": False}
        assert (first["ended_by_ticket"], second["ended_by_ticket"]) == (2, 2)  # of the whole cell, on every page


def a3_ticket(repair_reason: str, **over: Any) -> Any:
    """A3: ticket 09:00-17:00; dispatch paused 11:00-14:00, repair paused 13:00-15:00."""
    pauses = (
        ("dispatch", at("2026-03-03 11:00"), at("2026-03-03 14:00"), "awaiting-customer"),
        ("repair", at("2026-03-03 13:00"), at("2026-03-03 15:00"), repair_reason),
    )
    return ticket("T1", opened=at("2026-03-03 09:00"), pauses=pauses, **over)


async def e2e_setup(session: AsyncSession) -> Projection:
    projection = Projection()
    await projection.handle_commitment(session, [process(), commitment(**END_TO_END)])
    return projection


class TestEndToEndPauses:
    async def test_a3_the_union_of_allowed_node_pauses_stops_the_clock_once(self, session: AsyncSession) -> None:
        projection = await e2e_setup(session)
        await projection.handle_tracking(session, [a3_ticket("awaiting-customer", closed=at("2026-03-03 17:00"))])
        row = await row_of(session, "ticket:T1")
        # 8 h - 4 h (11:00-15:00, the overlap 13:00-14:00 once) = 4 h = the commitment limit: normal
        assert (row["counted_seconds"], row["final_state"]) == (4 * 3600, "completed_normal")

    async def test_a4_a_pause_for_a_reason_not_allowed_does_not_stop_the_clock(self, session: AsyncSession) -> None:
        projection = await e2e_setup(session)
        await projection.handle_tracking(session, [a3_ticket("internal-delay", closed=at("2026-03-03 17:00"))])
        row = await row_of(session, "ticket:T1")
        # 8 h - 3 h (dispatch's 11:00-14:00 only) = 5 h: over the commitment (4 h), within tolerance (6 h)
        assert (row["counted_seconds"], row["final_state"]) == (5 * 3600, "completed_acceptable")

    async def test_an_open_ticket_s_due_instants_move_by_its_allowed_pauses(self, session: AsyncSession) -> None:
        projection = await e2e_setup(session)
        await projection.handle_tracking(session, [a3_ticket("awaiting-customer")])
        row = await row_of(session, "ticket:T1")
        # 4 h of counted time from 09:00 with 11:00-15:00 stopped: 17:00; 6 h: 19:00
        assert (row["commitment_due_at"], row["tolerance_due_at"]) == (at("2026-03-03 17:00"), at("2026-03-03 19:00"))

    async def test_an_open_pause_of_a_node_stops_the_ticket_s_clock(self, session: AsyncSession) -> None:
        projection = await e2e_setup(session)
        paused = (("repair", at("2026-03-03 10:00"), None, "awaiting-customer"),)
        await projection.handle_tracking(session, [ticket("T1", opened=at("2026-03-03 09:00"), pauses=paused)])
        row = await row_of(session, "ticket:T1")
        assert row["commitment_due_at"] is None  # the clock stands still while the customer is awaited
        await scan_once(session, at("2026-03-04 09:00"), 100)
        assert await alerts_of(session, "ticket:T1") == []

    async def test_an_agreement_s_exempted_pause_reasons_apply_to_end_to_end_runs(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await e2e_setup(session)
        await projection.handle_tracking(session, [a3_ticket("internal-delay", closed=at("2026-03-03 17:00"))])
        await projection.handle_commitment(
            session, [agreement(covers=(("repair-end-to-end", 0.9),), pause_reasons=("internal-delay",))]
        )
        week = {"from": at("2026-03-02 00:00").isoformat(), "to": at("2026-03-09 00:00").isoformat()}
        review = (await client.get("/v1/reports/agreements/sla-1", params=week)).json()
        [covered] = review["commitments"]
        # stored: 5 h, acceptable (A4); under the agreement, internal-delay stops the clock too: 4 h, normal
        assert (covered["runs"], covered["normal"]["count"], covered["relieved_by_exemptions"]) == (1, 1, 1)
