"""Alerts: raised once per (run, cycle, level) when due instants pass, late when detected long after, listed,
acknowledged, resolved by the end of their run."""

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from evalfactories import at, calendar_w, commitment, node_run, process, ticket
from evaluation_svc.alerts.repository import LATE_SQL, NEW_DONE_SQL
from evaluation_svc.alerts.rules import is_late, levels_passed
from evaluation_svc.alerts.schemas import AlertPublic
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.readmodel.service import Projection
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pledge_common import tracing
from pledge_common.domain_metrics import ALERTS_RAISED, count_alerts
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


async def raise_two(session: AsyncSession, run_id: str = "a1", **run_over: Any) -> Projection:
    """A run with its prewarning (15:48) and acceptable (17:00) alerts, each detected within the hour."""
    projection = await setup_run(session, run_id, **run_over)
    await scan_once(session, at("2026-03-03 16:00"), 100)
    await scan_once(session, at("2026-03-03 17:30"), 100)
    return projection


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    return sorted(response.json()["items"], key=lambda a: a["due_at"])


def utc(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class TestLateness:
    def test_a_level_detected_more_than_the_age_after_it_was_reached_is_late(self) -> None:
        reached, hour = at("2026-03-03 15:48"), timedelta(hours=1)
        assert not is_late(reached, reached + hour, hour)
        assert is_late(reached, reached + hour + timedelta(microseconds=1), hour)
        assert not is_late(reached, reached + timedelta(minutes=12), hour)

    async def test_the_scanner_sql_judges_lateness_as_the_rule_does(self, session: AsyncSession) -> None:
        now, hour = at("2026-03-10 00:00"), timedelta(hours=1)
        dues = [now - d for d in (timedelta(days=300), hour + timedelta(microseconds=1), hour, timedelta(0))]
        rows = await session.execute(
            text(f"SELECT {LATE_SQL.format(due='d')} FROM unnest(CAST(:dues AS timestamptz[])) AS u(d)"),
            {"dues": dues, "now": now, "late_after": hour.total_seconds()},
        )
        assert [r[0] for r in rows] == [is_late(d, now, hour) for d in dues] == [True, True, False, False]

    async def test_a_backfill_records_levels_passed_long_ago_as_late(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        """Old work orders loaded now: a run started in March, still open, scanned at 17:30 the same day with
        a one-hour age: the prewarning (15:48) is late, the commitment crossed at 17:00 is news."""
        await setup_run(session)
        await scan_once(session, at("2026-03-03 17:30"), 100, late_after=timedelta(hours=1))
        prewarning, acceptable = await listed(client, node_run_id="a1")
        assert (prewarning["level"], prewarning["late"], prewarning["reached_at"]) == (
            "prewarning",
            True,
            utc(at("2026-03-03 15:48")),
        )
        assert prewarning["state"] == "open"  # the run is still open: a person may still act on it
        assert datetime.fromisoformat(prewarning["raised_at"]) > datetime.fromisoformat(prewarning["reached_at"])
        assert (acceptable["level"], acceptable["late"]) == ("acceptable", False)
        assert [a["level"] for a in await listed(client, late="false")] == ["acceptable"]
        assert [a["level"] for a in await listed(client, late="true")] == ["prewarning"]
        events = await session.execute(text("SELECT payload->>'level', payload->'late' FROM outbox ORDER BY seq"))
        assert [tuple(r) for r in events] == [("prewarning", True), ("acceptable", False)]


class TestLifecycle:
    async def test_completing_the_run_resolves_its_alerts_with_the_final_state(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await raise_two(session)
        prewarning, _ = await listed(client, node_run_id="a1")
        acked = await client.patch(f"/v1/alerts/{prewarning['id']}", json={"state": "acknowledged", "note": "on it"})
        assert acked.status_code == 200, acked.text
        ended = at("2026-03-03 17:45")
        await projection.handle_tracking(session, [node_run("a1", started=at("2026-03-03 10:00"), completed=ended)])
        alerts = await listed(client, node_run_id="a1")
        assert [(a["state"], a["final_state"], a["resolved_at"]) for a in alerts] == [
            ("resolved", "completed_acceptable", utc(ended))
        ] * 2
        assert [(a["acknowledged_by"], a["note"]) for a in alerts] == [("system", "on it"), (None, None)]
        events = await session.execute(text("SELECT key, payload FROM outbox WHERE type = 'alert.resolved'"))
        assert {k: p for k, p in events} == {a["id"]: a for a in alerts}  # the alert as the API answers it
        # the scanner has nothing left to raise on an ended run
        await scan_once(session, at("2026-03-05 00:00"), 100)
        assert await alerts_of(session, "a1") == ["prewarning", "acceptable"]

    async def test_cancelling_the_run_resolves_its_alerts_as_cancelled(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await raise_two(session)
        await projection.handle_tracking(
            session, [node_run("a1", started=at("2026-03-03 10:00"), cancelled=at("2026-03-03 18:00"))]
        )
        alerts = await listed(client, node_run_id="a1")
        assert [(a["state"], a["final_state"]) for a in alerts] == [("resolved", "cancelled")] * 2

    async def test_closing_the_ticket_resolves_the_alerts_of_its_end_to_end_run(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        e2e = commitment("e2e", key="repair-e2e", node_key=None, commitment_limit="PT8H", tolerance_limit="PT16H")
        await projection.handle_commitment(session, [calendar_w(), process(), e2e])
        await projection.handle_tracking(session, [ticket("T1", opened=at("2026-03-03 10:00"))])
        await scan_once(session, at("2026-03-04 10:30"), 100, late_after=timedelta(days=1))
        assert [a["state"] for a in await listed(client, node_run_id="ticket:T1")] == ["open", "open"]
        closed = at("2026-03-04 12:00")
        await projection.handle_tracking(session, [ticket("T1", opened=at("2026-03-03 10:00"), closed=closed)])
        assert [
            (a["state"], a["final_state"], a["resolved_at"]) for a in await listed(client, node_run_id="ticket:T1")
        ] == [("resolved", "completed_acceptable", utc(closed))] * 2

    async def test_the_end_of_one_run_leaves_the_alerts_of_others_open(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await raise_two(session)
        await setup_run(session, "a2")
        await scan_once(session, at("2026-03-03 17:30"), 100)
        await projection.handle_tracking(
            session, [node_run("a1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 17:45"))]
        )
        assert {a["state"] for a in await listed(client, node_run_id="a2")} == {"open"}

    async def test_an_alert_resolved_unacknowledged_cannot_be_acknowledged(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await raise_two(session)
        first, second = await listed(client, node_run_id="a1")
        assert (await client.post(f"/v1/alerts/{first['id']}/acknowledge")).status_code == 200
        await projection.handle_tracking(
            session, [node_run("a1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 17:45"))]
        )
        refused = await client.post(f"/v1/alerts/{second['id']}/acknowledge")
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        again = await client.patch(f"/v1/alerts/{first['id']}", json={"state": "acknowledged"})
        assert again.status_code == 200  # acknowledged before it resolved: idempotent, nothing changes
        assert again.json() == (await client.get(f"/v1/alerts/{first['id']}")).json()
        assert again.json()["state"] == "resolved"
        emitted = await session.scalar(text("SELECT count(*) FROM outbox WHERE type = 'alert.acknowledged'"))
        assert emitted == 1

    async def test_patch_acknowledges_once_and_refuses_any_other_change(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await raise_two(session)
        alert, _ = await listed(client, node_run_id="a1")
        acked = await client.patch(f"/v1/alerts/{alert['id']}", json={"state": "acknowledged"})
        assert acked.status_code == 200, acked.text
        body = acked.json()
        assert (body["state"], body["acknowledged_by"]) == ("acknowledged", "system")
        again = await client.patch(f"/v1/alerts/{alert['id']}", json={"state": "acknowledged", "note": "later"})
        assert (again.json()["acknowledged_at"], again.json()["note"]) == (body["acknowledged_at"], None)
        for bad, field in (({"state": "resolved"}, "state"), ({"state": "open"}, "state"),
                           ({"state": "acknowledged", "colour": "red"}, "colour"), ({}, "state")):  # fmt: skip
            response = await client.patch(f"/v1/alerts/{alert['id']}", json=bad)
            assert response.status_code == 422, bad
            assert response.json()["errors"][0]["field"] == field, response.text
        missing = await client.patch(f"/v1/alerts/{uuid.uuid4()}", json={"state": "acknowledged"})
        assert missing.status_code == 404


class TestFilters:
    async def test_state_filters_repeated_or_comma_separated(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await raise_two(session)
        await raise_two(session, "a2")
        await raise_two(session, "a3")
        a2_first, _ = await listed(client, node_run_id="a2")
        await client.post(f"/v1/alerts/{a2_first['id']}/acknowledge")
        await projection.handle_tracking(
            session, [node_run("a3", started=at("2026-03-03 10:00"), completed=at("2026-03-03 17:45"))]
        )

        async def runs_and_states(**params: Any) -> list[tuple[str, str]]:
            return sorted((a["node_run_id"], a["state"]) for a in await listed(client, **params))

        assert await runs_and_states(state="open") == [("a1", "open"), ("a1", "open"), ("a2", "open")]
        assert await runs_and_states(state="acknowledged") == [("a2", "acknowledged")]
        assert await runs_and_states(state="resolved") == [("a3", "resolved")] * 2
        both = [("a1", "open"), ("a1", "open"), ("a2", "acknowledged"), ("a2", "open")]
        assert await runs_and_states(state="open,acknowledged") == both
        assert await runs_and_states(state=["open", "acknowledged"]) == both
        assert len(await listed(client)) == 6
        bad = await client.get("/v1/alerts", params={"state": "open,closed"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "query.state"
        assert "'closed'" in bad.json()["errors"][0]["message"]

    async def test_position_filters_the_alerts(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await raise_two(session, "a1", position="engineer")
        await raise_two(session, "a2", position="dispatcher")
        await raise_two(session, "a3", position=None)  # the commitment's owner position: engineer
        assert {a["node_run_id"] for a in await listed(client, position="dispatcher")} == {"a2"}
        assert {a["node_run_id"] for a in await listed(client, position="engineer")} == {"a1", "a3"}
        assert len(await listed(client, position=["dispatcher", "engineer"])) == 6
        assert await listed(client, position="nobody") == []


class TestObservability:
    async def test_raised_events_carry_the_trace_context_of_the_scan_span(self, session: AsyncSession) -> None:
        await setup_run(session)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        tracing.use_tracer_provider(provider)
        try:
            with tracing.internal_span("alerts.scan"):
                expected = tracing.current_traceparent()
                await scan_once(session, at("2026-03-09 00:00"), 100)
        finally:
            tracing.use_tracer_provider(None)
        events = await session.execute(text("SELECT traceparent FROM outbox WHERE type = 'alert.raised'"))
        assert expected is not None
        assert [r.traceparent for r in events] == [expected] * 3

    async def test_raised_alerts_are_counted_by_level_when_their_transaction_commits(
        self, session: AsyncSession
    ) -> None:
        def raised(level: str) -> float:
            return ALERTS_RAISED.labels(level, "true")._value.get()  # late: the scan comes days after

        await setup_run(session)
        before = raised("warning")
        await scan_once(session, at("2026-03-09 00:00"), 100)
        assert raised("warning") == before  # the test's transaction is rolled back, never committed
        count_alerts([{"level": "warning", "late": True}])()
        assert raised("warning") == before + 1
