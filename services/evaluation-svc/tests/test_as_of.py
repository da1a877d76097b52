"""As of means as of: the runs list gives status, state and counted time at the instant asked, and the
deadlines a person reads (`*_reached_at`) beside the judging instants (`*_due_at`)."""

from datetime import UTC, datetime
from typing import Any

import httpx
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.reports.instants import AsOf, as_of
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession


def instant(value: str | None) -> datetime | None:
    return None if value is None else TypeAdapter(datetime).validate_python(value)


async def runs(client: httpx.AsyncClient, t: datetime) -> dict[str, dict[str, Any]]:
    response = await client.get("/v1/reports/status/runs", params={"as_of": t.isoformat()})
    assert response.status_code == 200, response.text
    return {r["id"]: r for r in response.json()["items"]}


class TestRunsAsOf:
    async def test_status_state_and_counted_time_are_those_at_the_instant(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
        # worked example 3: start Tue 10:00, completed Wed 11:30, 9.5 h counted
        await projection.handle_tracking(
            session, [node_run("n3", started=at("2026-03-03 10:00"), completed=at("2026-03-04 11:30"))]
        )
        tuesday = (await runs(client, at("2026-03-03 17:00")))["n3"]
        assert (tuesday["state"], tuesday["status"], tuesday["current_status"], tuesday["counted"]) == (
            "in_progress_normal",
            "in_progress",
            "completed",
            None,
        )
        thursday = (await runs(client, at("2026-03-05 00:00")))["n3"]
        assert (thursday["state"], thursday["status"], thursday["current_status"], thursday["counted"]) == (
            "completed_acceptable",
            "completed",
            "completed",
            "PT9H30M",
        )

    async def test_three_business_days_are_reached_at_the_end_of_the_third_working_day(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        version = commitment(limit_unit="business_days", commitment_limit="P3D", tolerance_limit="P5D")
        await projection.handle_commitment(session, [calendar_w(), process(), version])
        # worked example 12: start Wed 2026-03-04 15:00, deadline Mon 2026-03-09 18:00
        await projection.handle_tracking(session, [node_run("bd", started=at("2026-03-04 15:00"))])
        run = (await runs(client, at("2026-03-05 12:00")))["bd"]
        assert instant(run["commitment_reached_at"]) == at("2026-03-09 18:00")
        assert instant(run["commitment_due_at"]) == at("2026-03-10 09:00")
        assert instant(run["tolerance_reached_at"]) == at("2026-03-11 18:00")
        assert instant(run["tolerance_due_at"]) == at("2026-03-12 09:00")

    async def test_a_limit_reached_at_the_end_of_the_day_and_an_allowed_pause(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session, [calendar_w(), process(), commitment(commitment_limit="PT5H", prewarning_fraction=None)]
        )
        pause = ((at("2026-03-03 11:00"), at("2026-03-04 10:00"), "awaiting-customer"),)
        await projection.handle_tracking(
            session,
            [
                node_run("lunch", started=at("2026-03-03 12:00")),  # worked example 6
                node_run("paused", started=at("2026-03-03 10:00"), pauses=pause),  # 1 h, then from Wed 10:00
            ],
        )
        found = await runs(client, at("2026-03-03 12:30"))
        assert instant(found["lunch"]["commitment_reached_at"]) == at("2026-03-03 18:00")
        assert instant(found["lunch"]["commitment_due_at"]) == at("2026-03-04 09:00")
        assert instant(found["paused"]["commitment_reached_at"]) == at("2026-03-04 15:00")
        assert found["lunch"]["prewarning_reached_at"] is None


def test_a_run_ended_after_the_instant_is_in_progress_without_counted_time() -> None:
    t = datetime(2026, 3, 3, 12, tzinfo=UTC)
    later, earlier = datetime(2026, 3, 3, 13, tzinfo=UTC), datetime(2026, 3, 3, 11, tzinfo=UTC)
    assert as_of(t, status="completed", ended_at=later, counted_seconds=60.0) == AsOf("in_progress", None)
    assert as_of(t, status="completed", ended_at=earlier, counted_seconds=60.0) == AsOf("completed", 60.0)
    assert as_of(t, status="cancelled", ended_at=t, counted_seconds=None) == AsOf("cancelled", None)
    assert as_of(t, status="in_progress", ended_at=None, counted_seconds=None) == AsOf("in_progress", None)
