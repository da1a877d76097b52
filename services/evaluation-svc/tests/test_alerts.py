"""Alerts: raised once per (run, cycle, level) when due instants pass, listed, acknowledged."""

import asyncio
import itertools
import uuid
from datetime import datetime, timedelta

import httpx
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc.alerts.repository import NEW_DONE_SQL
from evaluation_svc.alerts.rules import levels_passed
from evaluation_svc.alerts.schemas import AlertPublic
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.readmodel.service import Projection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


async def alerts_of(session: AsyncSession, run_id: str) -> list[str]:
    rows = await session.execute(text("SELECT level FROM alerts WHERE node_run_id = :r ORDER BY due_at"), {"r": run_id})
    return [r.level for r in rows]


async def setup_run(session: AsyncSession, run_id: str = "a1", **run_over: object) -> Projection:
    projection = Projection()
    await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    await projection.handle_tracking(session, [node_run(run_id, started=at("2026-03-03 10:00"), **run_over)])  # type: ignore[arg-type]
    return projection


class TestLevels:
    def test_a_missing_prewarning_is_skipped_but_a_stopped_clock_stops_the_climb(self) -> None:
        now = at("2026-03-10 00:00")
        c, t = at("2026-03-03 17:00"), at("2026-03-04 12:00")
        assert levels_passed(0, None, c, t, now) == ([(2, c), (3, t)], 3)
        assert levels_passed(0, None, None, None, now) == ([], 0)
        assert levels_passed(2, None, c, t, at("2026-03-04 11:00")) == ([], 2)

    def test_the_due_instant_itself_is_still_within_the_limit(self) -> None:
        c = at("2026-03-03 17:00")
        assert levels_passed(1, None, c, c + timedelta(hours=5), c) == ([], 1)
        assert levels_passed(1, None, c, c + timedelta(hours=5), c + timedelta(microseconds=1)) == ([(2, c)], 2)

    async def test_the_scanner_sql_passes_the_same_levels(self, session: AsyncSession) -> None:
        """The scanner raises levels in SQL: it agrees with `levels_passed` on every combination."""
        now = at("2026-03-10 00:00")
        choices: tuple[datetime | None, ...] = (None, now - timedelta(hours=1), now, now + timedelta(hours=1))
        cases = [(done, *dues) for done in range(4) for dues in itertools.product(choices, repeat=3)]
        rows = await session.execute(
            text(
                f"""
                SELECT d.i, {NEW_DONE_SQL} AS new_done
                FROM unnest(CAST(:done AS smallint[]), CAST(:p AS timestamptz[]), CAST(:c AS timestamptz[]),
                            CAST(:t AS timestamptz[])) WITH ORDINALITY AS d(done, p, c, t, i)
                """
            ),
            {"now": now, **{k: [case[i] for case in cases] for i, k in enumerate(("done", "p", "c", "t"))}},
        )
        for i, new_done in rows:
            done, p, c, t = cases[i - 1]
            raised = [(level, due) for level, due in zip((1, 2, 3), (p, c, t), strict=True) if done < level <= new_done]
            assert ([(lv, d) for lv, d in raised if d is not None], new_done) == levels_passed(done, p, c, t, now), (
                cases[i - 1]
            )


class TestScanner:
    async def test_each_level_is_raised_once_when_its_instant_passes(self, session: AsyncSession) -> None:
        await setup_run(session)
        # 80 % of 6 h from Tue 10:00 is 4 h 48 min → Tue 15:48; commitment Tue 17:00; tolerance Wed 13:00 (9-12, 13-)
        await scan_once(session, at("2026-03-03 15:00"), 100)
        assert await alerts_of(session, "a1") == []
        await scan_once(session, at("2026-03-03 16:00"), 100)
        assert await alerts_of(session, "a1") == ["prewarning"]
        await scan_once(session, at("2026-03-03 16:30"), 100)
        await scan_once(session, at("2026-03-03 17:01"), 100)
        assert await alerts_of(session, "a1") == ["prewarning", "acceptable"]
        await scan_once(session, at("2026-03-04 13:01"), 100)
        await scan_once(session, at("2026-03-05 13:01"), 100)
        assert await alerts_of(session, "a1") == ["prewarning", "acceptable", "warning"]
        assert (await session.execute(text("SELECT next_alert_at FROM node_runs WHERE id = 'a1'"))).scalar() is None

    async def test_a_late_scan_raises_every_level_passed(self, session: AsyncSession) -> None:
        await setup_run(session)
        await scan_once(session, at("2026-03-09 00:00"), 100)
        assert await alerts_of(session, "a1") == ["prewarning", "acceptable", "warning"]
        events = await session.execute(text("SELECT type, payload->>'level' FROM outbox ORDER BY seq"))
        assert [tuple(r) for r in events] == [
            ("alert.raised", "prewarning"),
            ("alert.raised", "acceptable"),
            ("alert.raised", "warning"),
        ]

    async def test_the_raised_events_carry_the_alerts_as_the_api_shows_them(self, session: AsyncSession) -> None:
        projection = await setup_run(session)
        # due instants with a fraction of a second
        await projection.handle_tracking(session, [node_run("a2", started=at("2026-03-03 10:00:00.250000"))])
        await scan_once(session, at("2026-03-09 00:00"), 100)
        alerts = [
            AlertPublic(**r) for r in (await session.execute(text("SELECT * FROM alerts ORDER BY id"))).mappings()
        ]
        assert len({a.id for a in alerts}) == len(alerts) == 6
        assert all(a.id.version == 4 and a.id.variant == uuid.RFC_4122 for a in alerts)
        assert {a.due_at.microsecond for a in alerts} == {0, 250000}
        events = await session.execute(text("SELECT key, payload FROM outbox WHERE type = 'alert.raised'"))
        assert {k: p for k, p in events} == {str(a.id): a.event_payload() for a in alerts}

    async def test_a_run_is_alerted_once_its_last_change_has_settled(self, session: AsyncSession) -> None:
        await setup_run(session)
        await scan_once(session, at("2026-03-09 00:00"), 100, settle=60)
        assert await alerts_of(session, "a1") == []  # changed less than a minute ago
        await session.execute(text("UPDATE node_runs SET updated_at = updated_at - interval '61 seconds'"))
        await scan_once(session, at("2026-03-09 00:00"), 100, settle=60)
        assert await alerts_of(session, "a1") == ["prewarning", "acceptable", "warning"]

    async def test_a_backlog_that_completes_a_run_within_the_settle_time_raises_nothing(
        self, session: AsyncSession
    ) -> None:
        """A source replays a day: the start of a run arrives, its due instants long past, then its completion."""
        projection = await setup_run(session)
        await scan_once(session, at("2026-03-09 00:00"), 100, settle=60)
        await projection.handle_tracking(
            session, [node_run("a1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 14:00"))]
        )
        await session.execute(text("UPDATE node_runs SET updated_at = updated_at - interval '61 seconds'"))
        await scan_once(session, at("2026-03-09 00:00"), 100, settle=60)
        assert await alerts_of(session, "a1") == []

    async def test_runs_paused_for_an_allowed_reason_are_not_alerted(self, session: AsyncSession) -> None:
        await setup_run(session, pauses=((at("2026-03-03 11:00"), None, "awaiting-customer"),))
        await scan_once(session, at("2026-03-09 00:00"), 100)
        assert await alerts_of(session, "a1") == []

    async def test_finished_runs_are_not_alerted(self, session: AsyncSession) -> None:
        await setup_run(session, completed=at("2026-03-03 11:00"))
        await scan_once(session, at("2026-03-09 00:00"), 100)
        assert await alerts_of(session, "a1") == []

    async def test_a_pause_after_the_prewarning_defers_the_next_level_without_repeating_it(
        self, session: AsyncSession
    ) -> None:
        projection = await setup_run(session)
        await scan_once(session, at("2026-03-03 16:00"), 100)
        await projection.handle_tracking(
            session,
            [
                node_run(
                    "a1",
                    started=at("2026-03-03 10:00"),
                    pauses=((at("2026-03-03 16:00"), at("2026-03-04 16:00"), "awaiting-customer"),),
                )
            ],
        )
        await scan_once(session, at("2026-03-04 09:30"), 100)
        assert await alerts_of(session, "a1") == ["prewarning"]
        await scan_once(session, at("2026-03-04 17:30"), 100)
        assert await alerts_of(session, "a1") == ["prewarning", "acceptable"]


class TestReplicas:
    async def test_two_scanners_at_once_raise_each_alert_once(
        self, committed: async_sessionmaker[AsyncSession]
    ) -> None:
        async with committed() as session, session.begin():
            projection = Projection()
            await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
            await projection.handle_tracking(
                session, [node_run(f"r{i}", started=at("2026-03-03 10:00")) for i in range(200)]
            )

        async def replica() -> None:
            for _ in range(5):
                async with committed() as session, session.begin():
                    await scan_once(session, at("2026-03-09 00:00"), 37)

        await asyncio.gather(replica(), replica(), replica())
        async with committed() as session:
            count = await session.scalar(text("SELECT count(*) FROM alerts"))
            distinct = await session.scalar(text("SELECT count(DISTINCT (node_run_id, cycle, level)) FROM alerts"))
            events = await session.scalar(text("SELECT count(*) FROM outbox WHERE type = 'alert.raised'"))
        assert count == distinct == events == 600


class TestAlertsApi:
    async def test_list_filter_and_acknowledge(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await setup_run(session)
        await setup_run(session, "a2", department="billing")
        await scan_once(session, at("2026-03-03 17:30"), 100)
        listed = (await client.get("/v1/alerts", params={"department": "field"})).json()["items"]
        assert sorted(a["level"] for a in listed) == ["acceptable", "prewarning"]
        assert {a["node_run_id"] for a in listed} == {"a1"}
        page = (await client.get("/v1/alerts", params={"limit": 3})).json()
        rest = (await client.get("/v1/alerts", params={"limit": 3, "cursor": page["next_cursor"]})).json()
        assert len(page["items"]) + len(rest["items"]) == 4
        assert rest["next_cursor"] is None
        alert_id = listed[0]["id"]
        acked = await client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"note": "engineer on site"})
        assert acked.status_code == 200, acked.text
        assert (acked.json()["state"], acked.json()["note"]) == ("acknowledged", "engineer on site")
        again = await client.post(f"/v1/alerts/{alert_id}/acknowledge")
        assert again.json()["acknowledged_at"] == acked.json()["acknowledged_at"]
        open_only = (await client.get("/v1/alerts", params={"state": "open", "department": "field"})).json()["items"]
        assert alert_id not in [a["id"] for a in open_only]
        emitted = await session.scalar(text("SELECT count(*) FROM outbox WHERE type = 'alert.acknowledged'"))
        assert emitted == 1

    async def test_unknown_alert_is_404_and_bad_filters_422(self, client: httpx.AsyncClient) -> None:
        missing = await client.post("/v1/alerts/00000000-0000-0000-0000-000000000000/acknowledge")
        assert missing.status_code == 404
        bad = await client.get("/v1/alerts", params={"level": "panic"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.level.0"
        assert (await client.post("/v1/alerts/not-a-uuid/acknowledge")).status_code == 422
        assert (await client.get("/v1/alerts", params={"cursor": "@@@"})).status_code == 422
