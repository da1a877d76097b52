"""Settlement per billing period through the HTTP API, on real Postgres: DESIGN's S1-S4 and the clause kinds."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from evalfactories import agreement, commitment, node_run, process
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.settlement.satisfaction import FeedbackClient
from fastapi import FastAPI
from pledge_common.identity import Caller, identity_headers
from sqlalchemy.ext.asyncio import AsyncSession

PER_WARNING = {"kind": "per_warning_run", "amount": 500, "currency": "CNY"}
UNDER_TARGET = {"kind": "under_target", "commitment_key": "repair-residential", "amount": 10000, "currency": "CNY"}
SETTLEMENTS = "/v1/reports/agreements/sla-1/settlements"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def setup(session: AsyncSession, *penalties: dict[str, Any], **over: Any) -> Projection:
    """Round-the-clock commitment PT6H / tolerance PT10H, covered at 95 % by sla-1, billed monthly in UTC."""
    projection = Projection()
    covers = over.pop("covers", (("repair-residential", 0.95),))
    extra = over.pop("extra_commitments", ())
    await projection.handle_commitment(
        session,
        [process(), commitment(calendar_key=None), *extra, agreement(covers=covers, penalties=penalties, **over)],
    )
    return projection


def run(id_: str, start: str, hours: float | None, **over: Any) -> Any:
    """A run started at `start` (UTC) that took `hours` (None: still open)."""
    started = utc(start)
    completed = None if hours is None else started + timedelta(hours=hours)
    return node_run(id_, started=started, completed=completed, **over)


def month(prefix: str, day: str, normal: int, acceptable: int, **over: Any) -> list[Any]:
    """`normal` runs of 2 h and `acceptable` runs of 8 h, started on `day` at 00:00 UTC."""
    return [run(f"{prefix}n{i}", f"{day} 00:00", 2, **over) for i in range(normal)] + [
        run(f"{prefix}a{i}", f"{day} 00:00", 8, **over) for i in range(acceptable)
    ]


def as_user(app: FastAPI, sub: str, *scopes: str) -> dict[str, str]:
    caller = Caller(sub=sub, kind="user", scopes=frozenset(scopes), sources=None)
    return identity_headers(caller, app.state.settings.service_token)


async def settled(client: httpx.AsyncClient, period: str) -> dict[str, Any]:
    response = await client.get(f"{SETTLEMENTS}/{period}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def review(client: httpx.AsyncClient, start: str, end: str) -> dict[str, Any]:
    response = await client.get("/v1/reports/agreements/sla-1", params={"from": start, "to": end})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def charged(settlement: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(c["kind"], c["node_run_id"], c["amount"]) for c in settlement["charges"]]


class TestOnePeriodPerRun:
    async def test_s1_a_run_in_warning_is_charged_in_the_month_it_ended_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, [run("x", "2025-11-27 12:00", 24)])  # completed Nov 28, warning
        november, december = await settled(client, "2025-11"), await settled(client, "2025-12")
        assert charged(november) == [("per_warning_run", "x", "500.00")]
        assert november["charges"][0]["work_order"] == "ext-x"
        assert november["totals"]["credits"] == "500.00"
        assert (charged(december), december["totals"]["credits"]) == ([], "0.00")

    async def test_s2_a_run_open_past_tolerance_at_the_close_is_pending_then_charged_when_it_ends(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, [run("y", "2025-11-29 12:00", 24 * 3 + 12)])  # ends Dec 3 00:00
        november, december = await settled(client, "2025-11"), await settled(client, "2025-12")
        assert [(p["node_run_id"], p["work_order"], p["state"]) for p in november["pending"]] == [
            ("y", "ext-y", "in_progress_warning")
        ]
        assert (charged(november), november["totals"]["credits"]) == ([], "0.00")
        assert charged(december) == [("per_warning_run", "y", "500.00")]
        assert december["pending"] == []

    async def test_reviews_of_each_month_charge_the_open_run_in_december_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, [run("y", "2025-11-29 12:00", 84)])
        november = await review(client, "2025-11-01T00:00:00Z", "2025-12-01T00:00:00Z")
        december = await review(client, "2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z")
        assert (november["penalties"], november["totals"]) == ([], {"CNY": "0.00"})
        assert [p["node_run_id"] for p in december["penalties"]] == ["y"]

    async def test_a_review_over_both_months_charges_the_open_run_once(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, [run("y", "2025-11-29 12:00", 84)])
        body = await review(client, "2025-11-01T00:00:00Z", "2026-01-01T00:00:00Z")
        assert [(p["period"], p["node_run_id"], p["work_order"]) for p in body["penalties"]] == [
            ("2025-12", "y", "ext-y")
        ]
        assert [(p["period"], [r["node_run_id"] for r in p["pending"]]) for p in body["periods"]] == [
            ("2025-11", ["y"]),
            ("2025-12", []),
        ]
        assert body["totals"] == {"CNY": "500.00"}


class TestUnderTarget:
    async def test_s3_under_target_is_judged_per_month_and_a_quarter_review_sums_the_months(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, UNDER_TARGET)
        await projection.handle_tracking(
            session,
            month("oct", "2025-10-10", 100, 0) + month("nov", "2025-11-10", 93, 7) + month("dec", "2025-12-10", 96, 4),
        )
        body = await review(client, "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z")
        assert [(p["period"], p["achievement"][0]["normal"]["share"], p["credits"]) for p in body["periods"]] == [
            ("2025-10", 1.0, "0.00"),
            ("2025-11", 0.93, "10000.00"),
            ("2025-12", 0.96, "0.00"),
        ]
        assert body["totals"] == {"CNY": "10000.00"}
        [line] = body["penalties"]
        assert line["period"] == "2025-11"
        assert "93.0 % under the target 95.0 %" in line["reason"]

    async def test_each_run_counts_in_the_achievement_of_the_month_it_ended(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, UNDER_TARGET)
        # ten normal runs in November, and one that started Nov 30 and ended Dec 1 (acceptable, 8 h)
        await projection.handle_tracking(
            session, [*month("nov", "2025-11-10", 10, 0), run("edge", "2025-11-30 20:00", 8)]
        )
        november, december = await settled(client, "2025-11"), await settled(client, "2025-12")
        assert (november["commitments"][0]["judged"], november["commitments"][0]["normal"]["share"]) == (10, 1.0)
        assert (december["commitments"][0]["judged"], december["commitments"][0]["acceptable"]) == (1, 1)

    async def test_a_clause_without_a_commitment_key_is_charged_once_per_period(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        any_commitment = {**UNDER_TARGET, "commitment_key": None}
        projection = await setup(
            session,
            any_commitment,
            covers=(("repair-residential", 0.95), ("dispatch-residential", 0.9)),
            extra_commitments=[
                commitment("c-dispatch", key="dispatch-residential", node_key="dispatch", calendar_key=None)
            ],
        )
        await projection.handle_tracking(
            session, month("r", "2025-11-10", 8, 2) + month("d", "2025-11-10", 7, 3, node_key="dispatch")
        )
        november = await settled(client, "2025-11")
        assert charged(november) == [("under_target", None, "10000.00")]
        reason = november["charges"][0]["reason"]
        assert "repair-residential: achievement 80.0 %" in reason
        assert "dispatch-residential: achievement 70.0 %" in reason

    async def test_a_fee_share_is_taken_of_the_billing_base_fee(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        share = {"kind": "under_target", "commitment_key": None, "fee_share": 0.05, "currency": "CNY"}
        billing = {"period": "month", "timezone": "UTC", "currency": "CNY", "base_fee": 200000}
        projection = await setup(session, share, billing=billing)
        await projection.handle_tracking(session, month("r", "2025-11-10", 1, 1))
        november = await settled(client, "2025-11")
        assert charged(november) == [("under_target", None, "10000.00")]
        assert (november["totals"]["base_fee"], november["totals"]["amount_due"]) == ("200000.00", "190000.00")


class TestCapsFeesAndPeriods:
    async def test_credits_are_capped_per_period_and_deducted_from_the_base_fee(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        billing = {"period": "month", "timezone": "UTC", "currency": "CNY", "base_fee": 100000, "cap": 1000}
        projection = await setup(session, PER_WARNING, billing=billing)
        await projection.handle_tracking(session, [run(f"w{i}", "2025-11-10 00:00", 12) for i in range(3)])
        totals = (await settled(client, "2025-11"))["totals"]
        assert (totals["penalties"], totals["cap"], totals["capped_off"], totals["credit"]) == (
            "1500.00",
            "1000.00",
            "500.00",
            "1000.00",
        )
        assert totals["amount_due"] == "99000.00"

    async def test_quarterly_billing_in_the_agreement_time_zone(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        billing = {"period": "quarter", "timezone": "Asia/Shanghai"}
        projection = await setup(session, PER_WARNING, billing=billing)
        # ends 2025-12-31 17:00 UTC = 2026-01-01 01:00 in Shanghai: the first quarter of 2026
        await projection.handle_tracking(session, [run("x", "2025-12-31 05:00", 12)])
        q4, q1 = await settled(client, "2025-Q4"), await settled(client, "2026-Q1")
        assert (q4["from"], q4["to"]) == ("2025-09-30T16:00:00Z", "2025-12-31T16:00:00Z")
        assert (charged(q4), charged(q1)) == ([], [("per_warning_run", "x", "500.00")])

    @pytest.mark.parametrize("period", ["2025-Q4", "2025-13", "november", "2025-1"])
    async def test_a_period_not_of_the_agreement_billing_is_422_naming_it(
        self, session: AsyncSession, client: httpx.AsyncClient, period: str
    ) -> None:
        await setup(session, PER_WARNING)
        response = await client.get(f"{SETTLEMENTS}/{period}")
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "path.period"

    @pytest.mark.parametrize(
        ("path", "params", "field"),
        [
            (f"{SETTLEMENTS}/2025-11", {"from": "2025-11-01T00:00:00Z"}, "from"),
            (SETTLEMENTS, {"period": "2025-11"}, "period"),
            ("/v1/reports/agreements/sla-1", {"from": "2025-11-01T00:00:00Z", "to": "2025-12-01T00:00:00Z",
                                              "bucket": "week"}, "bucket"),
            ("/v1/reports/agreements/sla-1", {"from": "2025-11-01T00:00:00Z", "to": "2025-12-01T00:00:00Z",
                                              "group_by": "node"}, "group_by"),
        ],
    )  # fmt: skip
    async def test_a_parameter_the_route_does_not_apply_is_422_naming_it(
        self, session: AsyncSession, client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
    ) -> None:
        await setup(session, PER_WARNING)
        response = await client.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == f"query.{field}"

    async def test_unknown_agreement_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/reports/agreements/none/settlements/2025-11")).status_code == 404


class TestApproval:
    async def test_draft_then_approve_records_who_and_when(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, [run("x", "2025-11-27 12:00", 24)])
        manager = as_user(app, "qm-li", "alerts:manage")
        drafted = await client.post(f"{SETTLEMENTS}/2025-11", headers=manager)
        assert drafted.status_code == 200, drafted.text
        assert (drafted.json()["status"], drafted.json()["drafted_by"]) == ("draft", "qm-li")
        refused = await client.post(
            f"{SETTLEMENTS}/2025-11/approval", json={"expected_credits": "400"}, headers=manager
        )
        assert (refused.status_code, refused.json()["errors"][0]["field"]) == (409, "expected_credits")
        approved = await client.post(
            f"{SETTLEMENTS}/2025-11/approval", json={"expected_credits": "500"}, headers=manager
        )
        assert approved.status_code == 200, approved.text
        body = approved.json()
        assert (body["status"], body["approved_by"], body["totals"]["credits"]) == ("approved", "qm-li", "500.00")
        assert body["approved_at"] is not None
        listed = (await client.get(SETTLEMENTS)).json()["items"]
        assert [(s["period"], s["status"]) for s in listed] == [("2025-11", "approved")]

    async def test_settlements_are_listed_a_page_at_a_time_latest_period_first(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        await setup(session, PER_WARNING)
        manager = as_user(app, "qm-li", "alerts:manage")
        for period in ("2025-10", "2025-11"):
            drafted = await client.post(f"{SETTLEMENTS}/{period}", headers=manager)
            assert drafted.status_code == 200, drafted.text
        first = await client.get(SETTLEMENTS, params={"limit": 1})
        page = first.json()
        assert ([s["period"] for s in page["items"]], page["agreement"]["key"]) == (["2025-11"], "sla-1")
        assert first.headers["Link"].endswith('rel="next"')
        rest = (await client.get(SETTLEMENTS, params={"limit": 1, "cursor": page["next_cursor"]})).json()
        assert ([s["period"] for s in rest["items"]], rest["next_cursor"]) == (["2025-10"], None)
        naive = await client.get(SETTLEMENTS, params={"cursor": "WyIyMDI1LTExLTAxVDAwOjAwOjAwIl0"})
        assert (naive.status_code, naive.json()["errors"][0]["field"]) == (422, "query.cursor")
        assert (await client.get(SETTLEMENTS, params={"limit": 121})).status_code == 422

    async def test_approving_needs_the_manage_scope_and_a_draft(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        await setup(session, PER_WARNING)
        reader = as_user(app, "viewer", "reports:read")
        assert (await client.post(f"{SETTLEMENTS}/2025-11", headers=reader)).status_code == 403
        no_draft = await client.post(f"{SETTLEMENTS}/2025-11/approval", headers=as_user(app, "qm", "alerts:manage"))
        assert (no_draft.status_code, no_draft.json()["errors"][0]["field"]) == (409, "path.period")

    async def test_s4_an_approved_period_never_changes_and_a_late_event_is_adjusted_next_period(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, PER_WARNING, UNDER_TARGET)
        # November: 17 normal runs and Z (normal), one acceptable, X in warning: 18 / 20 = 90 % (under 95 %)
        await projection.handle_tracking(
            session,
            [*month("nov", "2025-11-10", 17, 1), run("z", "2025-11-20 00:00", 2), run("x", "2025-11-27 12:00", 24)],
        )
        draft = (await client.post(f"{SETTLEMENTS}/2025-11")).json()
        assert draft["totals"]["credits"] == "10500.00"
        approved = (await client.post(f"{SETTLEMENTS}/2025-11/approval")).json()
        # a late event: Z's completion was sent too early; it really completed 20 h later (warning)
        await projection.handle_tracking(session, [run("z", "2025-11-20 00:00", 22)])
        assert await settled(client, "2025-11") == approved
        again = await client.post(f"{SETTLEMENTS}/2025-11")
        assert (again.status_code, again.json()["errors"][0]["field"]) == (409, "path.period")
        assert await settled(client, "2025-11") == approved
        december = await settled(client, "2025-12")
        [adjusted] = december["adjustments"]
        assert (adjusted["period"], adjusted["settled_credit"], adjusted["recomputed_credit"]) == (
            "2025-11",
            "10500.00",
            "11000.00",
        )
        assert adjusted["amount"] == "500.00"
        assert [(c["node_run_id"], c["work_order"]) for c in adjusted["added"]] == [("z", "ext-z")]
        assert (december["totals"]["credit"], december["totals"]["credits"]) == ("0.00", "500.00")
        quarter = await review(client, "2025-11-01T00:00:00Z", "2026-01-01T00:00:00Z")
        assert [(p["period"], p["status"], p["credits"]) for p in quarter["periods"]] == [
            ("2025-11", "approved", "10500.00"),
            ("2025-12", "preview", "500.00"),
        ]

    async def test_an_adjustment_carried_by_an_approved_period_is_not_carried_again(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, [run("z", "2025-11-20 00:00", 2)])
        await client.post(f"{SETTLEMENTS}/2025-11")
        await client.post(f"{SETTLEMENTS}/2025-11/approval")
        await projection.handle_tracking(session, [run("z", "2025-11-20 00:00", 22)])
        await client.post(f"{SETTLEMENTS}/2025-12")
        december = (await client.post(f"{SETTLEMENTS}/2025-12/approval")).json()
        assert december["totals"]["adjustments"] == "500.00"
        january = await settled(client, "2026-01")
        assert january["adjustments"] == []


class TestSatisfaction:
    async def test_the_period_satisfaction_is_read_from_feedback_svc_beside_achievement(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        seen: list[httpx.Request] = []

        def feedback_svc(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            figures = {"passives": 0, "csat": None, "nps": None, "node_key": None, "department": None}
            groups = [
                {**figures, "process": "fault-repair", "segment": "residential", "responses": 10,
                 "csat_responses": 10, "csat_satisfied": 8, "nps_responses": 4, "promoters": 3, "detractors": 1},
                {**figures, "process": "new-connection", "segment": "residential", "responses": 50,
                 "csat_responses": 50, "csat_satisfied": 10, "nps_responses": 0, "promoters": 0, "detractors": 0},
            ]  # fmt: skip
            return httpx.Response(200, json={"groups": groups, "totals": {}})

        http = httpx.AsyncClient(base_url="http://feedback", transport=httpx.MockTransport(feedback_svc))
        app.state.feedback = FeedbackClient(http, app.state.settings.service_token)
        projection = await setup(session, PER_WARNING)
        await projection.handle_tracking(session, month("n", "2025-11-10", 3, 0))
        november = await settled(client, "2025-11")
        assert november["satisfaction"] == {
            "responses": 10,
            "csat_responses": 10,
            "csat": 0.8,
            "nps_responses": 4,
            "nps": 50.0,
            "processes": ["fault-repair"],
        }
        [request] = seen
        assert request.url.path == "/v1/feedback/summary"
        assert request.url.params.get_list("group_by") == ["process", "segment"]
        assert request.url.params["from"] == "2025-11-01T00:00:00+00:00"

    async def test_without_feedback_svc_the_settlement_says_why_satisfaction_is_missing(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        http = httpx.AsyncClient(
            base_url="http://feedback", transport=httpx.MockTransport(lambda _: httpx.Response(503, json={}))
        )
        app.state.feedback = FeedbackClient(http, app.state.settings.service_token)
        await setup(session, PER_WARNING)
        november = await settled(client, "2025-11")
        assert november["satisfaction"] is None
        assert "503" in november["satisfaction_unavailable"]
        assert json.dumps(november)  # still a whole settlement
