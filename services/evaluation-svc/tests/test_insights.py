"""Rankings, recommendations, what-if replays and agreement reviews through the HTTP API."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from evalfactories import agreement, at, calendar_w, commitment, node_run, process
from evaluation_svc.readmodel.service import Projection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

WEEK = {"from": at("2026-03-02 00:00").isoformat(), "to": at("2026-03-16 00:00").isoformat()}


async def setup(session: AsyncSession, **over: Any) -> Projection:
    projection = Projection()
    await projection.handle_commitment(session, [calendar_w(), process(), commitment(**over)])
    return projection


def runs(prefix: str, n: int, hours: float, *, day: str = "2026-03-03", **over: Any) -> list[Any]:
    """n runs started at 09:00 that took `hours` of wall time (counted time the same before lunch)."""
    start = at(f"{day} 09:00")
    return [node_run(f"{prefix}{i}", started=start, completed=start + timedelta(hours=hours), **over) for i in range(n)]


class TestRankings:
    async def test_departments_ranked_by_achievement_with_sample_sizes(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(
            session,
            runs("a", 4, 2, department="field")
            + runs("b", 3, 2, department="desk")
            + runs("c", 1, 30, department="desk")  # 30 h wall clock: far beyond tolerance
            + runs("d", 1, 2, department="tiny"),
        )
        body = (await client.get("/v1/reports/rankings", params={**WEEK, "min_sample": 2, "n": 1})).json()
        assert [(g["key"], g["rank"], g["judged"]) for g in body["ranked"]] == [("field", 1, 4), ("desk", 2, 4)]
        assert body["ranked"][1]["normal"]["share"] == 0.75
        assert [g["key"] for g in body["top"]] == ["field"]
        assert [g["key"] for g in body["bottom"]] == ["desk"]
        assert [g["key"] for g in body["insufficient"]] == ["tiny"]


class TestRecommendations:
    async def test_raise_improve_and_too_small_samples(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                calendar_w(),
                process(),
                commitment("fast", key="repair-fast", segment_key="vip"),
                commitment("slow", key="repair-slow", segment_key="residential"),
                commitment("few", key="repair-few", segment_key="enterprise"),
            ],
        )
        fast = [
            node_run(
                f"f{i}",
                started=at("2026-03-03 09:00"),
                completed=at("2026-03-03 09:00") + timedelta(minutes=30 + 5 * i),
                segment="vip",
            )
            for i in range(30)
        ]
        await projection.handle_tracking(
            session, fast + runs("s", 30, 30, segment="residential") + runs("e", 3, 1, segment="enterprise")
        )
        body = (await client.get("/v1/recommendations", params=WEEK)).json()
        items = {i["commitment"]: i for i in body["items"]}
        assert items["repair-fast"]["recommendation"] == "raise"
        assert items["repair-slow"]["recommendation"] == "improve"
        assert items["repair-few"]["recommendation"] == "insufficient_data"
        assert items["repair-fast"]["achievement"]["interval"][0] > 0.85
        # the 27th of 30 durations (30 + 5·26 = 160 min), exactly
        assert items["repair-fast"]["suggested_commitment_limit"] == "PT2H40M"
        assert items["repair-slow"]["suggested_commitment_limit"] is not None
        assert body["next_cursor"] is None
        first = await client.get("/v1/recommendations", params={**WEEK, "limit": 2})
        page = first.json()
        assert ([i["commitment"] for i in page["items"]], page["raise_at"]) == (["repair-fast", "repair-few"], 0.9)
        assert first.headers["Link"].endswith('rel="next"')
        rest = (
            await client.get("/v1/recommendations", params={**WEEK, "limit": 2, "cursor": page["next_cursor"]})
        ).json()
        assert ([i["commitment"] for i in rest["items"]], rest["next_cursor"]) == (["repair-slow"], None)
        assert rest["items"][0] == items["repair-slow"]

    async def test_runs_all_lasting_one_hour_have_every_percentile_and_the_mean_at_one_hour(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("h", 30, 1))
        [item] = (await client.get("/v1/recommendations", params=WEEK)).json()["items"]
        time = item["handling_time"]
        assert (time["completed"], time["median"], time["p90"], time["mean"]) == (30, "PT1H", "PT1H", "PT1H")
        assert item["suggested_commitment_limit"] == "PT1H"

    async def test_the_mean_is_given_beside_the_median(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("a", 2, 1) + runs("b", 1, 2, day="2026-03-04"))
        [item] = (await client.get("/v1/recommendations", params=WEEK)).json()["items"]
        time = item["handling_time"]
        assert (time["median"], time["mean"], time["mean_seconds"]) == ("PT1H", "PT1H20M", 4800.0)

    async def test_a_raise_never_suggests_a_limit_looser_than_today(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, commitment_limit="PT30M", tolerance_limit="PT1H", calendar_key=None)
        start = at("2026-03-03 09:00")
        exact = [node_run(f"e{i}", started=start, completed=start + timedelta(minutes=30)) for i in range(27)]
        slow = [node_run(f"s{i}", started=start, completed=start + timedelta(minutes=50)) for i in range(3)]
        await projection.handle_tracking(session, exact + slow)
        params = {**WEEK, "target_rate": 0.9}
        [item] = (await client.get("/v1/recommendations", params=params)).json()["items"]
        assert (item["recommendation"], item["suggested_commitment_limit"]) == ("raise", "PT30M")
        stricter = {**WEEK, "target_rate": 0.95}
        [item] = (await client.get("/v1/recommendations", params=stricter)).json()["items"]
        assert (item["suggested_commitment_limit"], item["suggestion_capped"]) == ("PT30M", True)
        assert item["suggested_tolerance_limit"] == "PT50M"

    async def test_a_business_days_commitment_is_suggested_in_business_days(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, limit_unit="business_days", commitment_limit="P3D", tolerance_limit="P5D")
        # started Mon 2026-03-02 10:00: completed Tue (1 business day after the start day) or Wed (2)
        start = at("2026-03-02 10:00")
        tuesday = [node_run(f"t{i}", started=start, completed=at("2026-03-03 16:00")) for i in range(25)]
        wednesday = [node_run(f"w{i}", started=start, completed=at("2026-03-04 11:00")) for i in range(5)]
        await projection.handle_tracking(session, tuesday + wednesday)
        [item] = (await client.get("/v1/recommendations", params=WEEK)).json()["items"]
        assert item["limit_unit"] == "business_days"
        assert (item["suggested_commitment_limit"], item["suggested_tolerance_limit"]) == ("P2D", "P2D")

    async def test_the_reason_quotes_the_rate_decided_on(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("ok", 26, 2) + runs("slow", 3, 8))  # 26 / 29 = 89.66 %
        [item] = (await client.get("/v1/recommendations", params={**WEEK, "min_sample": 10})).json()["items"]
        assert item["recommendation"] == "keep"
        assert item["reason"].startswith("89.7 % of runs met the commitment (26 of 29)")
        assert "90 %" not in item["reason"].split(",")[0]

    async def test_thresholds_are_checked(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/recommendations", params={**WEEK, "raise_at": 0.2, "improve_at": 0.5})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.improve_at"


class TestWhatIf:
    async def test_tighter_limit_replayed_side_by_side_changes_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("a", 2, 2) + runs("b", 2, 5))  # 2 h and 4 h counted
        before = (await session.execute(text("SELECT id, final_state FROM node_runs ORDER BY id"))).all()
        body = {**WEEK, "commitment": "repair-residential", "commitment_limit": "PT3H"}
        response = await client.post("/v1/what-if", json=body)
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["replayed_runs"] == 4
        assert report["overall"]["actual"]["normal"]["share"] == 1.0
        assert report["overall"]["proposed"]["normal"]["share"] == 0.5
        assert report["groups"][0]["group"] == {"node": "repair"}
        assert (await session.execute(text("SELECT id, final_state FROM node_runs ORDER BY id"))).all() == before

    async def test_a_round_the_clock_calendar_can_be_proposed(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("n", 1, 8))  # 7 h counted in office hours, 8 h round the clock
        calendar = {"timezone": "Asia/Shanghai", "weekly": {str(d): [["00:00", "24:00"]] for d in range(7)}}
        body = {**WEEK, "commitment": "repair-residential", "calendar": calendar, "tolerance_limit": "PT7H30M"}
        report = (await client.post("/v1/what-if", json=body)).json()
        assert report["overall"]["actual"]["acceptable"]["count"] == 1
        assert report["overall"]["proposed"]["warning"]["count"] == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"commitment": "nope"}, "commitment"),
            ({"commitment": "repair-residential", "commitment_limit": "six hours"}, "commitment_limit"),
            ({"commitment": "repair-residential", "tolerance_limit": "PT1H"}, "tolerance_limit"),
            ({"commitment": "repair-residential", "surprise": 1}, "surprise"),
            ({"commitment": "repair-residential", "to": "2027-06-01T00:00:00Z"}, "to"),
            ({"commitment": "repair-residential", "calendar": {"timezone": "Nowhere", "weekly": {}}}, "calendar"),
        ],
    )
    async def test_bad_proposals_are_422_naming_the_field(
        self, session: AsyncSession, client: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        await setup(session)
        response = await client.post("/v1/what-if", json={**WEEK, **body})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field


class TestAgreementReview:
    async def test_achievement_exemptions_exclusions_and_penalties(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        long_wait = ((at("2026-03-03 10:00"), at("2026-03-04 10:00"), "customer-abroad"),)
        await projection.handle_tracking(
            session,
            runs("ok", 3, 2)
            + runs("late", 1, 30)  # warning
            + [node_run("relieved", started=at("2026-03-03 09:00"), completed=at("2026-03-04 12:00"), pauses=long_wait)]
            + runs("storm", 1, 30, day="2026-03-10"),
        )
        await projection.handle_commitment(
            session,
            [
                agreement(
                    covers=(("repair-residential", 0.9),),
                    pause_reasons=("customer-abroad",),
                    force_majeure=((at("2026-03-10 00:00"), at("2026-03-11 00:00"), "typhoon"),),
                    penalties=(
                        {"kind": "per_warning_run", "amount": 50, "currency": "CNY"},
                        {
                            "kind": "under_target",
                            "commitment_key": None,
                            "amount": None,
                            "fee_share": 0.1,
                            "fee": 1000,
                            "currency": "CNY",
                        },
                    ),
                )
            ],
        )
        response = await client.get("/v1/reports/agreements/sla-1", params=WEEK)
        assert response.status_code == 200, response.text
        review = response.json()
        [covered] = review["commitments"]
        # relieved: 1 h + (pause Tue 10:00 → Wed 10:00 stops the clock) + 2 h = 3 h: normal under the agreement
        assert (covered["runs"], covered["judged"], covered["normal"]["count"]) == (5, 5, 4)
        assert covered["relieved_by_exemptions"] == 1
        assert covered["met"] is False
        assert [e["node_run_id"] for e in review["excluded"]] == ["storm0"]
        kinds = [(p["kind"], p["node_run_id"], p["amount"]) for p in review["penalties"]]
        assert kinds == [("per_warning_run", "late0", "50.00"), ("under_target", None, "100.00")]
        assert review["totals"] == {"CNY": "150.00"}

    async def test_an_agreement_covering_nothing_yet_reviews_to_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("ok", 2, 2))
        await projection.handle_commitment(session, [agreement(covers=(), status="draft")])
        response = await client.get("/v1/reports/agreements/sla-1", params=WEEK)
        assert response.status_code == 200, response.text
        assert (response.json()["commitments"], response.json()["penalties"]) == ([], [])

    async def test_the_segment_filter_narrows_the_agreement_scope_and_never_widens_it(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session)
        await projection.handle_tracking(session, runs("ok", 2, 2))  # residential
        await projection.handle_commitment(session, [agreement(segments=("residential",))])
        reviewed = {
            segment: (await client.get("/v1/reports/agreements/sla-1", params={**WEEK, "segment": segment})).json()
            for segment in ("residential", "business")
        }
        assert [c["runs"] for c in reviewed["residential"]["commitments"]] == [2]
        assert [c["runs"] for c in reviewed["business"]["commitments"]] in ([], [0])

    async def test_unknown_agreement_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reports/agreements/none", params=WEEK)
        assert response.status_code == 404
