"""Availability credits and per-outage penalties in settlements and agreement reviews, beside the runs'."""

from datetime import UTC, datetime
from typing import Any

import httpx
from evalfactories import agreement, at, calendar_w, commitment, kind_commitment, node_run, outage, process, service
from evaluation_svc.readmodel.service import Projection
from sqlalchemy.ext.asyncio import AsyncSession

PENALTIES = (
    {"kind": "per_warning_run", "amount": "50.00", "currency": "CNY"},
    {
        "kind": "availability_credit",
        "commitment_key": "erp-uptime",
        "tiers": [{"below": 0.999, "fee_share": 0.10}, {"below": 0.99, "fee_share": 0.25}],
        "fee": "20000.00",
        "currency": "CNY",
    },
    {"kind": "per_outage_over_limit", "commitment_key": "erp-uptime", "amount": "500.00", "currency": "CNY"},
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def setup(session: AsyncSession, outages: list[Any], **over: Any) -> None:
    projection = Projection()
    covers = (("repair-residential", 0.9), ("erp-uptime", 0.999))
    await projection.handle_commitment(
        session,
        [
            calendar_w(),
            process(),
            commitment(),
            service(),
            kind_commitment(),
            agreement(covers=covers, penalties=PENALTIES, **over),
        ],
    )
    run = node_run("late", started=at("2026-07-07 10:00"), completed=at("2026-07-09 10:00"))  # 16 h: warning
    await projection.handle_tracking(session, [run, *outages])


async def get(client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class TestSettlement:
    async def test_a_week_long_outage_credits_the_lowest_tier_and_its_penalty_beside_the_runs(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup(session, [outage("week", utc("2026-07-01T00:00"), utc("2026-07-08T00:00"))])
        s = await get(client, "/v1/reports/agreements/sla-1/settlements/2026-07")
        charges = sorted((c["kind"], c["amount"], c.get("outage_id"), c.get("service")) for c in s["charges"])
        assert charges == [
            ("availability_credit", "5000.00", None, "erp"),  # 1 - 7/31 = 77.4 %: 25 %, not 10 % + 25 %
            ("per_outage_over_limit", "500.00", "week", "erp"),
            ("per_warning_run", "50.00", None, None),
        ]
        assert s["totals"]["penalties"] == "5550.00"
        # populations apart: the runs' achievement holds the run commitment only, availability its own rows
        assert [c["commitment"] for c in s["commitments"]] == ["repair-residential"]
        [figures] = s["availability"]
        assert (figures["commitment"], figures["service"], figures["outages"], figures["warning"]) == (
            "erp-uptime",
            "erp",
            1,
            1,
        )
        assert figures["met"] is False

    async def test_an_outage_is_charged_in_the_period_it_ended(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup(session, [outage("long", utc("2026-06-30T20:00"), utc("2026-07-01T04:00:01"))])
        june = await get(client, "/v1/reports/agreements/sla-1/settlements/2026-06")
        july = await get(client, "/v1/reports/agreements/sla-1/settlements/2026-07")
        assert [c["kind"] for c in june["charges"] if c["kind"] == "per_outage_over_limit"] == []
        assert [c["outage_id"] for c in july["charges"] if c["kind"] == "per_outage_over_limit"] == ["long"]
        assert june["availability"][0]["pending"] == []  # 4 h as of June's close: not past tolerance

    async def test_a_customer_out_of_the_agreement_scope_is_not_settled(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup(
            session, [outage("week", utc("2026-07-01T00:00"), utc("2026-07-08T00:00"))], customer_refs=("globex",)
        )
        s = await get(client, "/v1/reports/agreements/sla-1/settlements/2026-07")
        assert [c["kind"] for c in s["charges"] if c["kind"] != "per_warning_run"] == []
        assert s["availability"] == []


class TestReview:
    async def test_the_review_lists_the_availability_penalties_labelled_by_kind(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup(session, [outage("week", utc("2026-07-01T00:00"), utc("2026-07-08T00:00"))])
        review = await get(
            client, "/v1/reports/agreements/sla-1", {"from": "2026-07-01T00:00:00Z", "to": "2026-08-01T00:00:00Z"}
        )
        kinds = sorted(p["kind"] for p in review["penalties"])
        assert kinds == ["availability_credit", "per_outage_over_limit", "per_warning_run"]
        assert [c["commitment"] for c in review["commitments"]] == ["repair-residential"]
        assert review["periods"][0]["availability"][0]["commitment"] == "erp-uptime"
        assert review["totals"] == {"CNY": "5550.00"}
