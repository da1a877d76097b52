"""Status and achievement reports through the HTTP API, against the pure rules, on a real Postgres."""

import math
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from evalfactories import agreement, at, calendar_w, commitment, node_run, process, ticket
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.reports.query import build_query
from evaluation_svc.reports.repository import ReportFilter, ReportRepository
from evaluation_svc.rules import calendar_from_payload, parse_duration, wilson_interval
from pledge_common.durations import ANSWER_PATTERN
from pledge_common.identity import Caller, identity_headers
from pledge_common.instants import DATE_TIME
from pledge_common.outbox import FeedEvent
from pledge_deadlines import Pause, classify, counted_time
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

PROBLEM = "application/problem+json"


async def setup_w(session: AsyncSession, **over: Any) -> Projection:
    projection = Projection()
    await projection.handle_commitment(session, [calendar_w(), process(), commitment(**over)])
    return projection


def q(value: datetime) -> str:
    return value.isoformat()


async def cell_ids(client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, str]:
    """id → state of every run behind a status report (walking the pages)."""
    found: dict[str, str] = {}
    cursor = None
    while True:
        page = await client.get("/v1/reports/status/runs", params={**params, "limit": 2, "cursor": cursor or ""})
        assert page.status_code == 200, page.text
        body = page.json()
        found |= {r["id"]: r["state"] for r in body["items"]}
        cursor = body["next_cursor"]
        if cursor is None:
            return found


class TestPeriodSemantics:
    async def test_worked_period_wednesday(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [
                node_run("run1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
                node_run("run3", started=at("2026-03-03 10:00"), completed=at("2026-03-04 11:30")),
                node_run("long", started=at("2026-03-03 10:00"), completed=at("2026-03-05 10:00")),
            ],
        )
        period = {"from": q(at("2026-03-04 00:00")), "to": q(at("2026-03-05 00:00"))}
        response = await client.get("/v1/reports/status", params=period)
        assert response.status_code == 200, response.text
        [row] = response.json()["rows"]
        assert row["group"] == {"process": "fault-repair", "node": "repair"}
        assert row["total"] == 2
        assert row["counts"]["completed_acceptable"] == 1
        assert row["counts"]["in_progress_warning"] == 1
        assert await cell_ids(client, period) == {"run3": "completed_acceptable", "long": "in_progress_warning"}

    async def test_cell_links_list_exactly_the_runs_counted(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [node_run(f"r{i}", started=at("2026-03-03 10:00") + timedelta(hours=i)) for i in range(5)],
        )
        body = (await client.get("/v1/reports/status", params={"as_of": q(at("2026-03-03 17:30"))})).json()
        [row] = body["rows"]
        for state, link in row["links"].items():
            page = (await client.get(link + "&limit=100")).json()
            assert len(page["items"]) == (row["total"] if state == "all" else row["counts"][state])

    async def test_each_cell_lists_its_runs_whether_ended_before_or_after_the_instant(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        """A run's state as of an instant is its final state when it ended by then, else the state of a run in
        progress: each cell's link lists exactly the runs it counts, in that state."""
        projection = await setup_w(session)
        start = at("2026-03-03 10:00")
        await projection.handle_tracking(
            session,
            [
                node_run("done", started=start, completed=start + timedelta(hours=1)),
                node_run("late", started=start, completed=at("2026-03-05 10:00")),  # after the instant
                node_run("open", started=start + timedelta(hours=5)),
                node_run("gone", started=start, cancelled=start + timedelta(hours=2)),
                # no commitment for this node: unjudged, whether it ended or not
                node_run("u-done", started=start, completed=start + timedelta(hours=1), node_key="survey"),
                node_run("u-open", started=start, node_key="survey"),
            ],
        )
        body = (await client.get("/v1/reports/status", params={"as_of": q(at("2026-03-04 12:00"))})).json()
        listed: dict[str, str] = {}
        for row in body["rows"]:
            for state, link in row["links"].items():
                if state == "all":
                    continue
                items = (await client.get(link + "&limit=100")).json()["items"]
                assert len(items) == row["counts"].get(state, 0), state
                assert {r["state"] for r in items} <= {state}
                listed |= {r["id"]: r["state"] for r in items}
        assert listed.keys() == {"done", "late", "open", "gone", "u-done", "u-open"}
        assert listed["u-done"] == listed["u-open"] == "unjudged"
        assert listed["done"].startswith("completed_")
        assert listed["gone"] == "cancelled"
        assert listed["late"].startswith("in_progress_")
        assert listed["open"].startswith("in_progress_")

    async def test_past_period_gives_the_same_answer_after_later_events(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [node_run("a", started=at("2026-03-03 10:00")), node_run("b", started=at("2026-03-03 11:00"))],
        )
        period = {"from": q(at("2026-03-03 00:00")), "to": q(at("2026-03-04 00:00"))}
        before = (await client.get("/v1/reports/status", params=period)).json()
        await projection.handle_tracking(
            session,
            [
                node_run("a", started=at("2026-03-03 10:00"), completed=at("2026-03-05 10:00")),
                node_run("b", started=at("2026-03-03 11:00"), cancelled=at("2026-03-04 09:00")),
                node_run("c", started=at("2026-03-04 09:00")),
            ],
        )
        after = (await client.get("/v1/reports/status", params=period)).json()
        assert after["rows"] == before["rows"]
        assert before["rows"][0]["counts"]["in_progress_acceptable"] == 1  # a: 7 h as of Wed 00:00

    async def test_version_change_mid_period_judges_each_run_by_its_own_version(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                commitment("v1", commitment_limit="PT6H", effective_to="2026-03-04T00:00:00+08:00"),
                commitment("v2", version=2, commitment_limit="PT3H", effective_from="2026-03-04T00:00:00+08:00"),
            ],
        )
        await projection.handle_tracking(
            session,
            [
                node_run("before", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
                node_run("after", started=at("2026-03-04 10:00"), completed=at("2026-03-04 15:00")),
            ],
        )
        period = {"from": q(at("2026-03-02 00:00")), "to": q(at("2026-03-09 00:00")), "group_by": "version"}
        rows = {
            r["group"]["version"]: r["counts"]
            for r in (await client.get("/v1/reports/status", params=period)).json()["rows"]
        }
        assert rows["v1"]["completed_normal"] == 1
        assert rows["v2"]["completed_acceptable"] == 1


class TestClassificationInSqlAgreesWithThePureRules:
    async def test_every_run_at_every_instant(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await setup_w(session)
        rng = random.Random(7)
        base = at("2026-03-02 08:00")
        events = []
        facts: dict[str, tuple[datetime, datetime | None, list[Pause]]] = {}
        for i in range(40):
            start = base + timedelta(minutes=rng.randrange(0, 4 * 24 * 60, 15))
            end = start + timedelta(minutes=rng.randrange(0, 3 * 24 * 60, 15)) if rng.random() < 0.7 else None
            pauses: tuple[tuple[datetime, datetime | None, str], ...] = ()
            if rng.random() < 0.4:
                p0 = start + timedelta(minutes=rng.randrange(0, 600, 15))
                p1 = p0 + timedelta(minutes=rng.randrange(15, 1500, 15))
                pauses = ((p0, p1, rng.choice(["awaiting-customer", "internal-delay"])),)
            events.append(node_run(f"x{i}", started=start, completed=end, pauses=pauses))
            allowed = [Pause(a, b, r) for a, b, r in pauses if r == "awaiting-customer"]
            facts[f"x{i}"] = (start, end, allowed)
        await projection.handle_tracking(session, events)
        calendar = calendar_from_payload(calendar_w().payload)
        for hours in range(0, 24 * 7, 7):
            t = base + timedelta(hours=hours, minutes=1)
            listed = await cell_ids(client, {"as_of": q(t)})
            expected = {}
            for run_id, (start, end, allowed) in facts.items():
                if start > t:
                    continue
                done = end is not None and end <= t
                counted = counted_time(calendar, start, end if done and end else t, allowed)
                expected[run_id] = classify(counted, timedelta(hours=6), timedelta(hours=10), completed=done).value
            assert listed == expected, t


class TestRollups:
    @pytest.mark.parametrize("rollup_tz", ["UTC", "Asia/Shanghai"])
    async def test_rollups_and_raw_rows_give_identical_counts(self, session: AsyncSession, rollup_tz: str) -> None:
        projection = Projection(rollup_timezone=rollup_tz)
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
        rng = random.Random(11)
        base = at("2026-03-01 00:00")
        events = []
        for i in range(300):
            start = base + timedelta(minutes=rng.randrange(0, 20 * 24 * 60))
            r = rng.random()
            end = start + timedelta(minutes=rng.randrange(0, 4 * 24 * 60))
            events.append(
                node_run(
                    f"y{i}",
                    started=start,
                    completed=end if r < 0.7 else None,
                    cancelled=end if 0.7 <= r < 0.8 else None,
                    segment=rng.choice(["residential", "vip"]),
                    source=rng.choice(["crm", "field"]),
                )
            )
        await projection.handle_tracking(session, events)
        repo = ReportRepository(session)
        now = datetime.now(UTC)
        for start, end, bucket in [
            (at("2026-03-03 07:20"), at("2026-03-17 15:45"), None),
            (at("2026-03-01 00:00"), at("2026-04-01 00:00"), "week"),
            (at("2026-03-05 10:10"), at("2026-03-05 10:50"), None),
        ]:
            query = build_query(
                now=now,
                as_of=None,
                start=start,
                end=end,
                bucket=bucket,
                timezone="Asia/Shanghai",
                group_by="segment,source",
                default_group=(),
                flt=ReportFilter(),
                agreement=None,
                max_days=366,
                rollup_timezone=rollup_tz,
            )
            rolled = sorted(await repo.state_counts(query.windows, query.filter, query.group_by))
            raw = sorted(await repo.state_counts(query.windows, query.filter, query.group_by, raw=True))
            assert rolled == raw
            rolled_d = sorted(await repo.duration_histograms(query.windows, query.filter, query.group_by))
            raw_d = sorted(await repo.duration_histograms(query.windows, query.filter, query.group_by, raw=True))
            assert rolled_d == raw_d


class TestAchievement:
    async def test_shares_intervals_and_percentiles(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await setup_w(session)
        events = [
            node_run(f"n{i}", started=at("2026-03-03 09:00"), completed=at("2026-03-03 09:00") + timedelta(hours=h))
            for i, h in enumerate([1, 2, 2, 3, 4, 5, 5, 8])  # 8 h = 7 h counted (lunch) → acceptable
        ]
        events.append(node_run("w", started=at("2026-03-03 09:00"), completed=at("2026-03-04 16:00")))  # 14 h
        events.append(node_run("c", started=at("2026-03-03 09:00"), cancelled=at("2026-03-03 10:00")))
        await projection.handle_tracking(session, events)
        period = {"from": q(at("2026-03-02 00:00")), "to": q(at("2026-03-09 00:00"))}
        body = (await client.get("/v1/reports/achievement", params=period)).json()
        [group] = body["groups"]
        assert (group["runs"], group["judged"], group["cancelled"]) == (10, 9, 1)
        assert group["normal"]["count"] == 7
        assert group["normal"]["share"] == pytest.approx(7 / 9)
        assert group["normal"]["interval"] == pytest.approx(list(wilson_interval(7, 9) or ()))
        assert (group["acceptable"]["count"], group["warning"]["count"]) == (1, 1)
        durations = group["counted_duration"]
        assert durations["completed"] == 9
        assert durations["median_seconds"] == pytest.approx(3 * 3600, rel=0.02)  # 1 2 2 3 3 4 4 7 14 h
        assert durations["p90_seconds"] == pytest.approx(14 * 3600, rel=0.02)
        assert durations["median"].startswith("PT")
        assert body["overall"][0]["judged"] == 9

    async def test_runs_of_one_hour_give_one_hour_for_median_p90_and_mean(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [
                node_run(f"h{i}", started=start, completed=start + timedelta(hours=1))
                for i, start in enumerate(
                    at(t) for t in ("2026-03-03 09:00", "2026-03-03 10:00", "2026-03-04 14:00", "2026-03-05 09:00")
                )
            ],
        )
        period = {"from": q(at("2026-03-02 00:00")), "to": q(at("2026-03-09 00:00"))}
        body = (await client.get("/v1/reports/achievement", params=period)).json()
        for row in (*body["groups"], body["overall"][0]):
            durations = row["counted_duration"]
            assert durations["completed"] == 4
            assert (durations["median"], durations["p90"], durations["mean"]) == ("PT1H", "PT1H", "PT1H")
            assert (durations["median_seconds"], durations["p90_seconds"], durations["mean_seconds"]) == (3600,) * 3
            for bounds in (durations["median_bounds"], durations["p90_bounds"]):
                low, high = parse_duration(bounds["from"]), parse_duration(bounds["to"])
                assert low <= timedelta(hours=1) < high
                assert high / low <= 1.02 * 1.001  # one bucket, widened to whole seconds

    async def test_mixed_durations_give_the_exact_mean_and_percentiles_within_their_bounds(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        rng = random.Random(17)
        events = []
        for i in range(60):
            start = at("2026-03-02 09:00") + timedelta(days=rng.randrange(0, 4), minutes=rng.randrange(0, 120))
            end = start + timedelta(seconds=rng.randrange(60, 40000))
            events.append(node_run(f"m{i}", started=start, completed=end))
        await projection.handle_tracking(session, events)
        completed = text("SELECT counted_seconds FROM node_runs WHERE final_state LIKE 'completed%'")
        counted = sorted((await session.scalars(completed)).all())
        assert len(counted) == 60
        assert len(set(counted)) > 50
        period = {"from": q(at("2026-02-23 00:00")), "to": q(at("2026-03-16 00:00"))}
        [group] = (await client.get("/v1/reports/achievement", params=period)).json()["groups"]
        durations = group["counted_duration"]
        assert durations["completed"] == 60
        mean = sum(counted) / len(counted)
        assert durations["mean_seconds"] == round(mean, 1)
        assert parse_duration(durations["mean"]) == timedelta(seconds=round(mean))
        for name, share in (("median", 0.5), ("p90", 0.9)):
            true = counted[math.ceil(share * len(counted)) - 1]  # nearest rank
            low = parse_duration(durations[f"{name}_bounds"]["from"]).total_seconds()
            high = parse_duration(durations[f"{name}_bounds"]["to"]).total_seconds()
            assert low <= true < high, name
            assert low <= durations[f"{name}_seconds"] < high, name
            assert (high - 1) / (low + 1) <= 1.02, name  # one bucket: at most 2 % apart

    async def test_exempted_runs_are_counted_apart(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [
                node_run("storm", started=at("2026-03-03 10:00"), completed=at("2026-03-05 10:00")),
                node_run("calm", started=at("2026-03-06 10:00"), completed=at("2026-03-06 11:00")),
            ],
        )
        await projection.handle_commitment(
            session, [agreement(force_majeure=((at("2026-03-03 00:00"), at("2026-03-04 00:00"), "typhoon"),))]
        )
        period = {"from": q(at("2026-03-02 00:00")), "to": q(at("2026-03-09 00:00"))}
        [group] = (await client.get("/v1/reports/achievement", params=period)).json()["groups"]
        assert (group["runs"], group["exempted"], group["judged"], group["normal"]["share"]) == (2, 1, 1, 1.0)

    async def test_day_buckets_follow_the_local_calendar(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [
                node_run("d1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 11:00")),
                node_run("d2", started=at("2026-03-04 10:00"), completed=at("2026-03-04 11:00")),
                node_run("d3", started=at("2026-03-04 12:00"), completed=at("2026-03-04 13:00")),
            ],
        )
        params = {
            "from": q(at("2026-03-03 00:00")),
            "to": q(at("2026-03-05 00:00")),
            "bucket": "day",
            "tz": "Asia/Shanghai",
            "group_by": "process",
        }
        groups = (await client.get("/v1/reports/achievement", params=params)).json()["groups"]
        assert [(g["bucket"]["start"], g["runs"]) for g in groups] == [
            ("2026-03-02T16:00:00Z", 1),
            ("2026-03-03T16:00:00Z", 2),
        ]

    async def test_end_to_end_ticket_rows_are_apart_from_node_rows(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [calendar_w(), process(), commitment(), commitment("e2e", key="repair-e2e", node_key=None)],
        )
        await projection.handle_tracking(
            session,
            [
                ticket("T1", opened=at("2026-03-03 10:00"), closed=at("2026-03-03 12:00")),
                node_run("n1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 12:00"), ticket_id="T1"),
            ],
        )
        body = (await client.get("/v1/reports/status", params={"as_of": q(at("2026-03-04 00:00"))})).json()
        assert sorted((r["group"]["node"] or "-", r["total"]) for r in body["rows"]) == [("-", 1), ("repair", 1)]
        only_e2e = await cell_ids(client, {"as_of": q(at("2026-03-04 00:00")), "scope": "end_to_end"})
        assert list(only_e2e) == ["ticket:T1"]


class TestFiltersAndCallers:
    async def test_bound_partner_sees_only_its_sources(
        self, session: AsyncSession, client: httpx.AsyncClient, settings: Any
    ) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [
                node_run("mine", started=at("2026-03-03 10:00"), source="crm"),
                node_run("theirs", started=at("2026-03-03 10:00"), source="billing"),
            ],
        )
        partner = Caller(sub="key-1", kind="key", scopes=frozenset({"reports:read"}), sources=frozenset({"crm"}))
        headers = identity_headers(partner, settings.service_token)
        params = {"as_of": q(at("2026-03-03 12:00")), "group_by": "source"}
        body = (await client.get("/v1/reports/status", params=params, headers=headers)).json()
        assert [r["group"]["source"] for r in body["rows"]] == ["crm"]
        asked_for_other = (
            await client.get("/v1/reports/status", params={**params, "source": "billing"}, headers=headers)
        ).json()
        assert asked_for_other["rows"] == []
        runs = (await client.get("/v1/reports/status/runs", params={"as_of": params["as_of"]}, headers=headers)).json()
        assert [r["id"] for r in runs["items"]] == ["mine"]

    async def test_filters_narrow_the_table(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await setup_w(session)
        await projection.handle_tracking(
            session,
            [
                node_run("v", started=at("2026-03-03 10:00"), segment="vip", department="field"),
                node_run("r", started=at("2026-03-03 10:00"), segment="residential", department="field"),
            ],
        )
        params = {"as_of": q(at("2026-03-03 12:00")), "segment": "vip", "department": "field"}
        [row] = (await client.get("/v1/reports/status", params=params)).json()["rows"]
        assert row["total"] == 1


def agreement_version(id_: str, key: str, version: int, **over: Any) -> FeedEvent:
    """A version of an agreement after its first (its own id, the key of the agreement)."""
    event = agreement(id_, **over)
    event.payload.update(key=key, version=version)
    return event


async def setup_agreements(session: AsyncSession, *, with_agreements: bool = True) -> None:
    """sla-a covers repair and dispatch; sla-b (version 2; version 1 was terminated) covers repair for the
    customer cust-vip; sla-old is terminated. Runs, all finished by Wed 17:30: `both` (sla-a and sla-b), `first` and
    `disp` (sla-a only), `none` (no commitment, so no agreement)."""
    definitions = [
        calendar_w(),
        process(),
        commitment(),
        commitment("c-dispatch", key="dispatch-all", node_key="dispatch"),
    ]
    if with_agreements:
        definitions += [
            agreement("sla-a", covers=(("repair-residential", 0.9), ("dispatch-all", 0.9))),
            agreement_version("sla-b-v1", "sla-b", 1, covers=(("dispatch-all", 0.9),), status="terminated"),
            agreement_version(
                "sla-b-v2", "sla-b", 2, covers=(("repair-residential", 0.95),), customer_refs=("cust-vip",)
            ),
        ]
    definitions.append(agreement("sla-old", status="terminated"))
    projection = Projection()
    await projection.handle_commitment(session, definitions)
    await projection.handle_tracking(
        session,
        [
            node_run("both", started=at("2026-03-03 10:00"), completed=at("2026-03-03 12:00"), customer_ref="cust-vip"),
            node_run("first", started=at("2026-03-03 11:00"), completed=at("2026-03-03 14:00")),
            node_run(
                "disp",
                started=at("2026-03-04 10:00"),
                completed=at("2026-03-04 12:00"),
                node_key="dispatch",
                customer_ref="cust-vip",
            ),
            node_run(
                "none",
                started=at("2026-03-04 10:00"),
                completed=at("2026-03-04 12:00"),
                process_key="install",
                node_key="survey",
            ),
        ],
    )


AS_OF = {"as_of": at("2026-03-04 17:30").isoformat()}
WEEK = {"from": at("2026-03-02 00:00").isoformat(), "to": at("2026-03-09 00:00").isoformat()}


class TestGroupByAgreement:
    async def test_each_run_is_in_the_group_of_every_agreement_covering_it(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_agreements(session)
        response = await client.get("/v1/reports/status", params={**AS_OF, "group_by": "agreement"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert [(r["group"], r["total"]) for r in body["rows"]] == [
            ({"agreement": "sla-a"}, 3),
            ({"agreement": "sla-b"}, 1),
        ]
        assert body["totals"] == []
        assert [(a["key"], a["id"], a["version"], a["title"]) for a in body["agreements"]] == [
            ("sla-a", "sla-a", 1, "Agreement sla-a"),
            ("sla-b", "sla-b-v2", 2, "Agreement sla-b-v2"),
        ]
        listed: dict[str, list[str]] = {}
        for row in body["rows"]:
            page = (await client.get(row["links"]["all"] + "&limit=100")).json()
            listed[row["group"]["agreement"]] = sorted(r["id"] for r in page["items"])
        assert listed == {"sla-a": ["both", "disp", "first"], "sla-b": ["both"]}

    async def test_agreement_combines_with_other_dimensions_and_totals_count_each_agreement_apart(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_agreements(session)
        params = {**AS_OF, "group_by": "process,agreement,node"}
        body = (await client.get("/v1/reports/status", params=params)).json()
        assert [(r["group"], r["total"]) for r in body["rows"]] == [
            ({"process": "fault-repair", "agreement": "sla-a", "node": "dispatch"}, 1),
            ({"process": "fault-repair", "agreement": "sla-a", "node": "repair"}, 2),
            ({"process": "fault-repair", "agreement": "sla-b", "node": "repair"}, 1),
        ]
        assert [(r["group"], r["total"]) for r in body["totals"]] == [
            ({"process": "fault-repair", "agreement": "sla-a"}, 3),
            ({"process": "fault-repair", "agreement": "sla-b"}, 1),
        ]
        narrowed = {**params, "node": "repair"}
        rows = (await client.get("/v1/reports/status", params=narrowed)).json()["rows"]
        assert [(r["group"]["agreement"], r["total"]) for r in rows] == [("sla-a", 2), ("sla-b", 1)]

    async def test_achievement_by_agreement_per_bucket_with_overall_counting_each_run_once(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_agreements(session)
        params = {**WEEK, "group_by": "agreement", "bucket": "day", "tz": "Asia/Shanghai"}
        response = await client.get("/v1/reports/achievement", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        tuesday, wednesday = "2026-03-02T16:00:00Z", "2026-03-03T16:00:00Z"
        assert [(g["bucket"]["start"], g["group"], g["runs"]) for g in body["groups"]] == [
            (tuesday, {"agreement": "sla-a"}, 2),
            (tuesday, {"agreement": "sla-b"}, 1),
            (wednesday, {"agreement": "sla-a"}, 1),
        ]
        [a_tue, b_tue, _] = body["groups"]
        assert (a_tue["counted_duration"]["completed"], b_tue["counted_duration"]["completed"]) == (2, 1)
        overall = {o["bucket"]["start"]: o for o in body["overall"] if o["population"] == "node"}
        assert (overall[tuesday]["runs"], overall[tuesday]["counted_duration"]["completed"]) == (2, 2)
        assert overall[wednesday]["runs"] == 1  # `disp`; `none` is in no agreement's group
        assert [a["key"] for a in body["agreements"]] == ["sla-a", "sla-b"]

    async def test_the_agreement_filter_keeps_only_that_agreements_group(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_agreements(session)
        for agreement_ref in ("sla-b", "sla-b-v2"):
            params = {**AS_OF, "group_by": "agreement,node", "agreement": agreement_ref}
            body = (await client.get("/v1/reports/status", params=params)).json()
            assert [(r["group"], r["total"]) for r in body["rows"]] == [({"agreement": "sla-b", "node": "repair"}, 1)]
            assert [a["key"] for a in body["agreements"]] == ["sla-b"]
        params = {**WEEK, "group_by": "agreement", "agreement": "sla-a"}
        body = (await client.get("/v1/reports/achievement", params=params)).json()
        assert [(g["group"], g["runs"]) for g in body["groups"]] == [({"agreement": "sla-a"}, 3)]
        assert body["overall"][0]["runs"] == 3

    async def test_no_agreement_but_terminated_ones_gives_no_groups(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_agreements(session, with_agreements=False)
        body = (await client.get("/v1/reports/status", params={**AS_OF, "group_by": "agreement,process"})).json()
        assert (body["rows"], body["totals"], body["agreements"]) == ([], [], [])
        body = (await client.get("/v1/reports/achievement", params={**WEEK, "group_by": "agreement"})).json()
        assert (body["groups"], body["agreements"]) == ([], [])
        assert [(o["population"], o["runs"]) for o in body["overall"]] == [("node", 0), ("end_to_end", 0)]

    async def test_an_agreement_scoped_to_segments_and_a_segment_filter_both_apply(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        await projection.handle_commitment(session, [agreement("sla-vip", segments=("vip",))])
        await projection.handle_tracking(
            session,
            [
                node_run("v", started=at("2026-03-03 10:00"), segment="vip"),
                node_run("r", started=at("2026-03-03 10:00"), segment="residential"),
            ],
        )
        params = {**AS_OF, "agreement": "sla-vip", "group_by": "agreement,segment"}
        rows = (await client.get("/v1/reports/status", params=params)).json()["rows"]
        assert [(r["group"], r["total"]) for r in rows] == [({"agreement": "sla-vip", "segment": "vip"}, 1)]
        only_other = (await client.get("/v1/reports/status", params={**params, "segment": "residential"})).json()
        assert only_other["rows"] == []


def commitment_of(node_key: str, process_key: str, segment: str) -> str | None:
    """The commitment key `scale_setup` governs a run by (worked out by hand from its commitments)."""
    if process_key != "fault-repair":
        return None
    if node_key == "dispatch":
        return "dispatch-all"
    return "repair-vip" if segment == "vip" else "repair-residential"


class TestGroupByAgreementAtScale:
    async def test_the_statements_of_a_grouped_report_do_not_grow_with_the_agreements(
        self, session: AsyncSession, connection: AsyncConnection, client: httpx.AsyncClient
    ) -> None:
        await setup_agreements(session)  # sla-a, and sla-b scoped to a customer (read row by row)
        reports = [
            ("/v1/reports/status", {**AS_OF, "group_by": "agreement"}),
            ("/v1/reports/status", {**AS_OF, "group_by": "process,agreement,node"}),
            ("/v1/reports/achievement", {**WEEK, "group_by": "agreement", "bucket": "day", "tz": "Asia/Shanghai"}),
        ]
        statements: list[str] = []

        def record(*args: Any) -> None:
            statements.append(args[2])

        async def cost() -> list[tuple[int, int]]:
            """(statements run, groups) of each report."""
            costs = []
            for path, params in reports:
                statements.clear()
                response = await client.get(path, params=params)
                assert response.status_code == 200, response.text
                body = response.json()
                costs.append(
                    (len(statements), len({r["group"]["agreement"] for r in body.get("rows", body.get("groups"))}))
                )
            return costs

        event.listen(connection.sync_connection, "before_cursor_execute", record)
        try:
            two = await cost()
            more = [
                agreement(f"sla-{i:02}", covers=(("repair-residential", 0.9),), segments=("residential",))
                for i in range(14)
            ] + [
                agreement(f"sla-c{i:02}", covers=(("repair-residential", 0.9),), customer_refs=("cust-vip",))
                for i in range(14)
            ]
            await Projection().handle_commitment(session, more)
            thirty = await cost()
        finally:
            event.remove(connection.sync_connection, "before_cursor_execute", record)
        assert [groups for _, groups in two] == [2, 2, 2]
        assert [groups for _, groups in thirty] == [30, 30, 30]
        assert [n for n, _ in thirty] == [n for n, _ in two]

    async def test_many_overlapping_agreements_count_exactly_the_runs_each_covers(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                process(),
                commitment(),
                commitment("c-dispatch", key="dispatch-all", node_key="dispatch"),
                commitment("c-repair-vip", key="repair-vip", segment_key="vip"),
            ],
        )
        rng = random.Random(23)
        segments, customers = ["residential", "enterprise", "vip"], ["cust-1", "cust-2", "cust-3", "cust-vip"]
        runs: dict[str, tuple[str | None, str, str]] = {}  # id → (commitment key, segment, customer)
        events = []
        for i in range(80):
            process_key = "install" if i % 10 == 0 else "fault-repair"
            node_key = "survey" if process_key == "install" else rng.choice(["dispatch", "repair"])
            segment, customer = rng.choice(segments), rng.choice(customers)
            start = at("2026-03-03 08:00") + timedelta(minutes=rng.randrange(0, 36 * 60, 5))
            end = start + timedelta(minutes=rng.randrange(10, 24 * 60))
            r = rng.random()
            events.append(
                node_run(
                    f"m{i:02}",
                    started=start,
                    completed=end if r < 0.6 else None,
                    cancelled=end if 0.6 <= r < 0.7 else None,
                    process_key=process_key,
                    node_key=node_key,
                    segment=segment,
                    customer_ref=customer,
                )
            )
            runs[f"m{i:02}"] = (commitment_of(node_key, process_key, segment), segment, customer)
        await projection.handle_tracking(session, events)

        keys = ["repair-residential", "dispatch-all", "repair-vip", "not-a-commitment"]
        scopes: dict[str, tuple[set[str], set[str], set[str]]] = {}  # agreement key → its latest coverage
        definitions = []
        for i in range(40):
            key = f"sla-{i:02}"
            covers = tuple((k, 0.9) for k in rng.sample(keys, rng.randrange(0, 4)))
            seg = tuple(rng.sample(segments, rng.choice([0, 0, 1, 2])))
            cust = tuple(rng.sample(customers, rng.choice([0, 0, 0, 1, 2])))
            status = rng.choice(["signed"] * 6 + ["draft", "terminated"])
            if i % 5 == 0:  # an earlier version with another coverage
                # signing version 2 terminated version 1; while 2 is an open draft, the signed 1 is in force
                first = "signed" if status == "draft" else "terminated"
                definitions.append(
                    agreement_version(f"{key}-v1", key, 1, covers=(("dispatch-all", 0.9),), status=first)
                )
                definitions.append(
                    agreement_version(
                        f"{key}-v2", key, 2, covers=covers, segments=seg, customer_refs=cust, status=status
                    )
                )
                if first == "signed":
                    scopes[key] = ({"dispatch-all"}, set(), set())
                    continue
            else:
                definitions.append(agreement(key, covers=covers, segments=seg, customer_refs=cust, status=status))
            if status != "terminated":
                scopes[key] = ({k for k, _ in covers}, set(seg), set(cust))
        await projection.handle_commitment(session, definitions)

        def covered(key: str) -> set[str]:
            commitments, seg, cust = scopes[key]
            return {
                run_id
                for run_id, (commitment_key, segment, customer) in runs.items()
                if commitment_key in commitments and (not seg or segment in seg) and (not cust or customer in cust)
            }

        expected = {key: covered(key) for key in scopes if covered(key)}
        assert len(expected) > 15
        assert sum(map(len, expected.values())) > len(runs)  # they overlap

        as_of = {"as_of": at("2026-03-05 12:00").isoformat()}
        body = (await client.get("/v1/reports/status", params={**as_of, "group_by": "agreement"})).json()
        assert {r["group"]["agreement"]: r["total"] for r in body["rows"]} == {k: len(v) for k, v in expected.items()}
        assert [a["key"] for a in body["agreements"]] == sorted(scopes)
        for row in body["rows"]:  # the runs behind each group are the runs its agreement covers
            page = (await client.get(row["links"]["all"] + "&limit=500")).json()
            assert {r["id"] for r in page["items"]} == expected[row["group"]["agreement"]]

        by_segment = (await client.get("/v1/reports/status", params={**as_of, "group_by": "segment,agreement"})).json()
        assert {(r["group"]["segment"], r["group"]["agreement"]): r["total"] for r in by_segment["rows"]} == {
            (segment, key): n
            for key, ids in expected.items()
            for segment in segments
            if (n := sum(runs[i][1] == segment for i in ids))
        }

        week = {"from": at("2026-03-02 00:00").isoformat(), "to": at("2026-03-09 00:00").isoformat()}
        body = (await client.get("/v1/reports/achievement", params={**week, "group_by": "agreement"})).json()
        assert {g["group"]["agreement"]: g["runs"] for g in body["groups"]} == {k: len(v) for k, v in expected.items()}
        [overall, _] = body["overall"]
        assert overall["population"] == "node"
        assert overall["runs"] == len(set().union(*expected.values()))


class TestBadParameters:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2026-01-01T00:00:00Z", "to": "2027-01-03T00:00:00Z"}, "query.to"),
            ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query.to"),
            ({"from": "2026-01-01T00:00:00Z"}, "query.to"),
            ({"as_of": "2026-01-01T00:00:00"}, "query.as_of"),
            (
                {"as_of": "2026-01-01T00:00:00Z", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
                "query.as_of",
            ),
            ({"group_by": "planet"}, "query.group_by"),
            ({"group_by": "agreement,planet"}, "query.group_by"),
            ({"group_by": "agreement,agreement"}, "query.group_by"),
            ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "tz": "Mars/Olympus"}, "query.tz"),
            ({"bucket": "day"}, "query.bucket"),
            ({"bucket": "fortnight"}, "query.bucket"),
            ({"as_of": "yesterday"}, "query.as_of"),
            ({"agreement": "nope"}, "query.agreement"),
        ],
    )
    async def test_bad_parameters_are_422_naming_the_field(
        self, client: httpx.AsyncClient, params: dict[str, str], field: str
    ) -> None:
        response = await client.get("/v1/reports/status", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == field

    async def test_page_over_the_maximum_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reports/status/runs", params={"limit": 100000})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.limit"

    async def test_achievement_needs_a_period(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reports/achievement")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.from"

    async def test_unknown_state_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reports/status/runs", params={"state": "sleepy"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.state"


def values_of(body: Any) -> list[tuple[str, str]]:
    """(key, text) of every string in a JSON answer."""
    if isinstance(body, dict):
        return [
            pair
            for key, value in body.items()
            for pair in ([(key, value)] if isinstance(value, str) else values_of(value))
        ]
    if isinstance(body, list):
        return [pair for item in body for pair in values_of(item)]
    return []


class TestValuesInAnswers:
    async def test_durations_follow_rfc_3339_and_instants_are_utc_with_z(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup_w(session)
        seconds = [50, 2 * 3600 + 50, 26 * 3600 + 61]  # PT50S, PT2H0M50S, PT26H1M1S: the gaps RFC 3339 fills
        events = [
            node_run(f"n{i}", started=at("2026-03-03 09:00"), completed=at("2026-03-03 09:00") + timedelta(seconds=s))
            for i, s in enumerate(seconds)
        ]
        await projection.handle_tracking(session, events)
        period = {"from": q(at("2026-03-02 00:00")), "to": q(at("2026-03-09 00:00"))}  # given in +08:00
        answers = [
            await client.get("/v1/reports/achievement", params={**period, "bucket": "day", "tz": "Asia/Shanghai"}),
            await client.get("/v1/reports/status", params={"as_of": q(at("2026-03-06 12:00"))}),
            await client.get("/v1/reports/status/runs", params={"as_of": q(at("2026-03-06 12:00"))}),
        ]
        durations, instants = [], []
        for answer in answers:
            assert answer.status_code == 200, answer.text
            for key, value in values_of(answer.json()):
                if re.fullmatch(r"-?P[\dT].*", value):
                    durations.append(value)
                elif DATE_TIME.match(value):
                    instants.append((key, value))
        assert durations
        assert [d for d in durations if not re.fullmatch(ANSWER_PATTERN, d)] == []
        assert "PT2H0M50S" in durations
        assert instants
        assert [i for i in instants if not i[1].endswith("Z")] == []

    async def test_an_instant_without_an_offset_is_422_naming_the_parameter(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reports/status", params={"as_of": "2026-03-06T12:00:00"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.as_of"
