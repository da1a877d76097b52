"""The read model: node runs judged by their governing commitment version, on a real Postgres."""

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from evalfactories import agreement, at, calendar_w, commitment, event, node_run, process, ticket
from evaluation_svc.readmodel.repository import LOCAL_DAY_START_SQL, day_start
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.rules import state_as_of
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def setup_w(session: AsyncSession, projection: Projection, **commitment_over: Any) -> None:
    await projection.handle_commitment(session, [calendar_w(), process(), commitment(**commitment_over)])


async def run_row(session: AsyncSession, id_: str) -> dict[str, Any]:
    row = (await session.execute(text("SELECT * FROM node_runs WHERE id = :i"), {"i": id_})).mappings().one()
    return dict(row)


def state(row: dict[str, Any], t: datetime) -> str | None:
    return state_as_of(
        t,
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        final_state=row["final_state"],
        commitment_id=row["commitment_id"],
        commitment_due_at=row["commitment_due_at"],
        tolerance_due_at=row["tolerance_due_at"],
    )


WORKED = [
    ("1", "2026-03-03 10:00", "2026-03-03 15:00", 4.0, "completed_normal"),
    ("2", "2026-03-03 10:00", "2026-03-03 17:30", 6.5, "completed_acceptable"),
    ("3", "2026-03-03 10:00", "2026-03-04 11:30", 9.5, "completed_acceptable"),
    ("4", "2026-03-03 10:00", "2026-03-04 13:30", 10.5, "completed_warning"),
    ("5", "2026-03-03 16:00", "2026-03-03 20:00", 2.0, "completed_normal"),
    ("9", "2026-04-30 17:00", "2026-05-04 12:00", 4.0, "completed_normal"),
    ("10", "2026-05-08 16:00", "2026-05-11 10:00", 11.0, "completed_warning"),
]


class TestWorkedExamples:
    @pytest.mark.parametrize(("name", "start", "end", "hours", "expected"), WORKED)
    async def test_completed_run_is_judged_by_counted_time_and_by_due_instants_alike(
        self, session: AsyncSession, name: str, start: str, end: str, hours: float, expected: str
    ) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(session, [node_run(f"w{name}", started=at(start), completed=at(end))])
        row = await run_row(session, f"w{name}")
        assert row["counted_seconds"] == hours * 3600
        assert row["final_state"] == expected
        completed_at = row["completed_at"]
        by_instants = (
            "completed_normal"
            if completed_at <= row["commitment_due_at"]
            else "completed_acceptable"
            if completed_at <= row["tolerance_due_at"]
            else "completed_warning"
        )
        assert by_instants == expected

    async def test_example_5_commitment_is_due_wednesday_14_00(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(session, [node_run("w5", started=at("2026-03-03 16:00"))])
        row = await run_row(session, "w5")
        assert row["commitment_due_at"] == at("2026-03-04 14:00")
        assert row["tolerance_due_at"] == at("2026-03-05 09:00")  # 2 h + 8 h: reached Wed 18:00
        assert row["prewarning_due_at"] == at("2026-03-04 11:48")  # 80 % of 6 h = 4 h 48 min

    async def test_example_6_deadline_after_the_evening_is_wednesday_09_00(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection, commitment_limit="PT5H")
        await projection.handle_tracking(session, [node_run("w6", started=at("2026-03-03 12:00"))])
        assert (await run_row(session, "w6"))["commitment_due_at"] == at("2026-03-04 09:00")

    async def test_example_7_allowed_pause_stops_the_clock(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        pause = ((at("2026-03-03 11:00"), at("2026-03-04 10:00"), "awaiting-customer"),)
        await projection.handle_tracking(
            session, [node_run("w7", started=at("2026-03-03 10:00"), completed=at("2026-03-04 12:00"), pauses=pause)]
        )
        row = await run_row(session, "w7")
        assert (row["counted_seconds"], row["final_state"]) == (3 * 3600, "completed_normal")

    async def test_example_8_pause_reason_not_allowed_keeps_the_clock_running(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        pause = ((at("2026-03-03 11:00"), at("2026-03-04 10:00"), "internal-delay"),)
        await projection.handle_tracking(
            session, [node_run("w8", started=at("2026-03-03 10:00"), completed=at("2026-03-04 12:00"), pauses=pause)]
        )
        row = await run_row(session, "w8")
        assert (row["counted_seconds"], row["final_state"]) == (10 * 3600, "completed_acceptable")

    async def test_example_11_in_progress_turns_acceptable_after_17_00(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(session, [node_run("w11", started=at("2026-03-03 10:00"))])
        row = await run_row(session, "w11")
        assert state(row, at("2026-03-03 17:00")) == "in_progress_normal"
        assert state(row, at("2026-03-03 17:01")) == "in_progress_acceptable"
        assert state(row, at("2026-03-05 09:00")) == "in_progress_warning"

    async def test_example_12_three_business_days_end_with_monday_working_hours(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection, limit_unit="business_days", commitment_limit="P3D", tolerance_limit="P5D")
        start = at("2026-03-04 15:00")
        await projection.handle_tracking(
            session,
            [
                node_run("b-mon-18", started=start, completed=at("2026-03-09 18:00")),
                node_run("b-mon-20", started=start, completed=at("2026-03-09 20:00")),
                node_run("b-tue", started=start, completed=at("2026-03-10 09:30")),
            ],
        )
        assert (await run_row(session, "b-mon-18"))["final_state"] == "completed_normal"
        assert (await run_row(session, "b-mon-20"))["final_state"] == "completed_normal"  # no working time passed
        assert (await run_row(session, "b-tue"))["final_state"] == "completed_acceptable"


class TestGoverningVersion:
    async def test_run_is_judged_by_the_version_in_force_at_its_start(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                commitment("v1", version=1, commitment_limit="PT6H", effective_to="2026-03-04T00:00:00+08:00"),
                commitment("v2", version=2, commitment_limit="PT2H", effective_from="2026-03-04T00:00:00+08:00"),
            ],
        )
        await projection.handle_tracking(
            session,
            [
                node_run("old", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
                node_run("new", started=at("2026-03-04 10:00"), completed=at("2026-03-04 15:00")),
            ],
        )
        old, new = await run_row(session, "old"), await run_row(session, "new")
        assert (old["commitment_id"], old["final_state"]) == ("v1", "completed_normal")
        assert (new["commitment_id"], new["final_state"]) == ("v2", "completed_acceptable")

    async def test_segment_specific_version_wins_over_default(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                commitment("d", key="repair-default"),
                commitment("vip", key="repair-vip", segment_key="vip", commitment_limit="PT2H"),
            ],
        )
        await projection.handle_tracking(
            session,
            [
                node_run("r-vip", started=at("2026-03-03 10:00"), segment="vip"),
                node_run("r-res", started=at("2026-03-03 10:00"), segment="residential"),
            ],
        )
        assert (await run_row(session, "r-vip"))["commitment_key"] == "repair-vip"
        assert (await run_row(session, "r-res"))["commitment_key"] == "repair-default"

    async def test_drafts_never_govern(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), commitment("draft", status="draft")])
        await projection.handle_tracking(session, [node_run("r", started=at("2026-03-03 10:00"))])
        assert (await run_row(session, "r"))["commitment_id"] is None

    async def test_a_service_commitment_is_never_a_node_commitment(self, session: AsyncSession) -> None:
        projection = Projection()
        availability = commitment("c-uptime-v1", key="portal-uptime").payload | {
            "kind": "availability",
            "process_key": None,
            "node_key": None,
            "service_key": "portal",
            "obligation_key": None,
            "objective": {"max_outages": 3, "max_downtime": "PT8H", "planned_maintenance_exempt": True},
        }
        clause = commitment("c-training-v1", key="staff-training").payload | {
            "kind": "clause",
            "process_key": None,
            "node_key": None,
            "commitment_limit": None,
            "tolerance_limit": None,
            "service_key": "portal",
            "obligation_key": "staff-training",
            "objective": {"due_at": "2026-12-15T00:00:00Z", "tolerance_due_at": None, "requires_sign_off": True},
        }
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                process(),
                commitment(),
                event("commitment.upserted", "c-uptime-v1", availability),
                event("commitment.upserted", "c-training-v1", clause),
            ],
        )
        stored = await session.scalars(text("SELECT id FROM ref_commitments ORDER BY id"))
        assert list(stored) == ["c-repair-v1"]
        await projection.handle_tracking(session, [node_run("r", started=at("2026-03-03 10:00"))])
        assert (await run_row(session, "r"))["commitment_id"] == "c-repair-v1"

    async def test_runs_arriving_before_their_commitment_are_judged_when_it_arrives(
        self, session: AsyncSession
    ) -> None:
        projection = Projection()
        await projection.handle_tracking(
            session, [node_run("early", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00"))]
        )
        assert (await run_row(session, "early"))["final_state"] == "unjudged"
        await setup_w(session, projection)
        row = await run_row(session, "early")
        assert (row["commitment_id"], row["final_state"]) == ("c-repair-v1", "completed_normal")

    async def test_a_finished_run_that_came_before_the_version_in_force_at_its_start_is_judged_by_it(
        self, session: AsyncSession
    ) -> None:
        """The two feeds race: version 2 was put in force from March 2nd before the run was sent, but reaches
        this read model after the run (which version 1 judged meanwhile)."""
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(
            session, [node_run("raced", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00"))]
        )
        assert (await run_row(session, "raced"))["commitment_id"] == "c-repair-v1"
        v1_until = commitment(status="retired", effective_to="2026-03-02T00:00:00+00:00")
        v2 = commitment("c-repair-v2", version=2, commitment_limit="PT1H", tolerance_limit="PT2H",
                        effective_from="2026-03-02T00:00:00+00:00")  # fmt: skip
        await projection.handle_commitment(session, [v1_until, v2])
        row = await run_row(session, "raced")
        assert (row["commitment_id"], row["final_state"]) == ("c-repair-v2", "completed_warning")
        # the same events again change nothing: the version is not new any more
        await projection.handle_commitment(session, [v1_until, v2])
        assert (await run_row(session, "raced"))["commitment_id"] == "c-repair-v2"

    async def test_calendar_change_moves_deadlines_of_open_runs_but_not_finished_ones(
        self, session: AsyncSession
    ) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(
            session,
            [
                node_run("open", started=at("2026-03-03 10:00")),
                node_run("done", started=at("2026-03-03 10:00"), completed=at("2026-03-03 17:30")),
            ],
        )
        before_done = await run_row(session, "done")
        # the office now works 09:00-18:00 without a lunch break
        await projection.handle_commitment(
            session, [calendar_w(weekly={str(d): [["09:00", "18:00"]] if d < 5 else [] for d in range(7)})]
        )
        assert (await run_row(session, "open"))["commitment_due_at"] == at("2026-03-03 16:00")
        after_done = await run_row(session, "done")
        assert after_done["final_state"] == before_done["final_state"] == "completed_acceptable"
        assert after_done["commitment_due_at"] == before_done["commitment_due_at"]

    async def test_open_allowed_pause_leaves_no_due_instant(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        pause = ((at("2026-03-03 11:00"), None, "awaiting-customer"),)
        await projection.handle_tracking(session, [node_run("p", started=at("2026-03-03 10:00"), pauses=pause)])
        row = await run_row(session, "p")
        assert row["commitment_due_at"] is None
        assert row["next_alert_at"] is None
        assert state(row, at("2026-03-20 10:00")) == "in_progress_normal"

    async def test_end_to_end_commitment_judges_the_ticket(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                process(),
                commitment("e2e", key="repair-e2e", node_key=None, commitment_limit="PT8H", tolerance_limit="PT16H"),
            ],
        )
        await projection.handle_tracking(
            session, [ticket("T1", opened=at("2026-03-03 10:00"), closed=at("2026-03-04 12:00"))]
        )
        row = await run_row(session, "ticket:T1")
        assert (row["kind"], row["node_key"], row["final_state"]) == ("ticket", None, "completed_acceptable")
        assert row["department"] == "field"

    async def test_cancelled_run_is_cancelled(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(
            session, [node_run("c", started=at("2026-03-03 10:00"), cancelled=at("2026-03-03 11:00"))]
        )
        row = await run_row(session, "c")
        assert row["final_state"] == "cancelled"
        assert state(row, at("2026-03-03 10:30")) == "in_progress_normal"


class TestRollups:
    async def test_late_event_moves_a_finished_run_between_rollup_cells(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(
            session, [node_run("late", started=at("2026-03-03 10:00"), completed=at("2026-03-04 13:30"))]
        )
        # a late pause event re-emits the run in full: 3 h of the wait do not count
        pause = ((at("2026-03-03 11:00"), at("2026-03-03 15:00"), "awaiting-customer"),)
        await projection.handle_tracking(
            session,
            [node_run("late", started=at("2026-03-03 10:00"), completed=at("2026-03-04 13:30"), pauses=pause)],
        )
        rows = (
            await session.execute(text("SELECT state, sum(n) FROM run_state_hourly GROUP BY state HAVING sum(n) <> 0"))
        ).all()
        assert rows == [("completed_acceptable", 1)]

    async def test_force_majeure_exempts_runs_and_moves_their_rollup(self, session: AsyncSession) -> None:
        projection = Projection()
        await setup_w(session, projection)
        await projection.handle_tracking(
            session, [node_run("storm", started=at("2026-03-03 10:00"), completed=at("2026-03-04 13:30"))]
        )
        await projection.handle_commitment(
            session, [agreement(force_majeure=((at("2026-03-03 00:00"), at("2026-03-04 00:00"), "typhoon"),))]
        )
        assert (await run_row(session, "storm"))["exempted"] is True
        rows = (
            await session.execute(
                text("SELECT exempted, sum(n) FROM run_state_hourly GROUP BY exempted HAVING sum(n) <> 0")
            )
        ).all()
        assert rows == [(True, 1)]
        await projection.handle_commitment(session, [agreement(force_majeure=())])
        assert (await run_row(session, "storm"))["exempted"] is False


async def test_builtin_round_the_clock_calendar_needs_no_feed_event(session: AsyncSession) -> None:
    projection = Projection()
    await projection.handle_commitment(session, [process(), commitment(calendar_key="24x7")])
    await projection.handle_tracking(
        session, [node_run("rc", started=at("2026-03-03 20:00"), completed=at("2026-03-04 04:00"))]
    )
    row = await run_row(session, "rc")
    assert (row["counted_seconds"], row["final_state"]) == (8 * 3600, "completed_acceptable")


async def test_deleted_draft_commitments_and_segments_leave_the_reference_tables(session: AsyncSession) -> None:
    projection = Projection()
    await projection.handle_commitment(
        session,
        [
            process(),
            commitment("draft-1", status="draft"),
            event("segment.upserted", "gold", {"key": "gold", "name": "Gold"}),
        ],
    )
    await projection.handle_commitment(
        session,
        [
            event("commitment.deleted", "draft-1", {"id": "draft-1", "commitment_key": "repair-residential"}),
            event("segment.deleted", "gold", {"key": "gold"}),
            event("commitment.upserted", "broken", {"id": "broken"}),  # malformed: skipped, not fatal
        ],
    )
    assert await session.scalar(text("SELECT count(*) FROM ref_commitments")) == 0
    assert await session.scalar(text("SELECT count(*) FROM ref_segments")) == 0


@pytest.mark.parametrize(
    "zone",
    ["America/Havana", "America/Santiago", "Asia/Tehran", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Shanghai"],
)
async def test_local_day_start_in_sql_is_the_one_python_computes(session: AsyncSession, zone: str) -> None:
    """The duration rollups' days are computed in SQL; reports find them with `day_start`. They agree on
    every day, including a repeated or skipped local midnight and a day a zone skipped altogether."""
    days = [date(2000, 1, 1) + timedelta(days=i) for i in range(365 * 30)]
    sql = LOCAL_DAY_START_SQL.format(day="d", tz="CAST(:tz AS text)")
    rows = await session.execute(text(f"SELECT d, {sql} AS s FROM unnest(CAST(:days AS date[])) AS d"),
                                 {"days": days, "tz": zone})  # fmt: skip
    assert {r.d: r.s for r in rows} == {d: day_start(d, zone) for d in days}
