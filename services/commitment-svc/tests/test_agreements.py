"""Agreements (SLA/OLA): references, lifecycle with who and when, immutability once signed, versions."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from support import active_commitment, events, kind_body, ok, portal, problem

FEED_FIELDS = {
    "id", "key", "version", "kind", "title", "provider", "customer", "scope", "covers", "exemptions", "penalties",
    "billing", "glossary", "status", "history", "signed_at", "terminated_at",
}  # fmt: skip


def sla(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "acme-sla",
        "kind": "sla",
        "title": "Acme power supply SLA",
        "provider": "ops",
        "customer": "acme-corp",
        "scope": {"customer_refs": ["acme-corp"], "segments": ["vip"]},
        "covers": [{"commitment_key": "repair-dispatch-vip", "target_rate": 0.95}],
        "exemptions": {
            "pause_reasons": ["awaiting-customer"],
            "force_majeure": [
                {"from": "2026-07-01T00:00:00+08:00", "to": "2026-07-03T00:00:00+08:00", "reason": "typhoon"}
            ],
        },
        "penalties": [
            {"kind": "per_warning_run", "amount": 200, "currency": "CNY"},
            {
                "kind": "under_target",
                "commitment_key": "repair-dispatch-vip",
                "fee_share": 0.05,
                "fee": 100000,
                "currency": "CNY",
            },
        ],
        "glossary": {"restore": "power back at the customer's meter"},
    }
    body.update(overrides)
    return body


@pytest.fixture
async def covered(client: httpx.AsyncClient, org: dict[str, Any]) -> dict[str, Any]:
    return await active_commitment(client)


async def move(client: httpx.AsyncClient, id_: str, to: str, **extra: Any) -> httpx.Response:
    return await client.post(f"/v1/agreements/{id_}/transitions", json={"to": to, **extra})


async def signed(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    created = await ok(await client.post("/v1/agreements", json=sla(**overrides)), 201)
    await ok(await move(client, created["id"], "negotiating"))
    return await ok(await move(client, created["id"], "signed"))  # type: ignore[no-any-return]


class TestCreateAgreement:
    async def test_creates_a_draft_and_emits_the_contract_payload(
        self, client: httpx.AsyncClient, session: AsyncSession, covered: dict[str, Any]
    ) -> None:
        body = await ok(await client.post("/v1/agreements", json=sla()), 201)
        assert (body["version"], body["status"]) == (1, "draft")
        (event,) = await events(session, "agreement.upserted")
        assert set(event) - {"key"} <= FEED_FIELDS
        assert set(FEED_FIELDS) <= set(event)
        assert event["exemptions"]["force_majeure"][0]["from"] == "2026-06-30T16:00:00Z"
        assert event["penalties"][0] == {"kind": "per_warning_run", "amount": "200.00", "currency": "CNY"}
        assert event["penalties"][1]["amount"] is None
        assert event["billing"] == {
            "period": "month",
            "timezone": "UTC",
            "currency": None,
            "base_fee": None,
            "cap": None,
        }

    async def test_billing_terms_reach_the_feed(
        self, client: httpx.AsyncClient, session: AsyncSession, covered: dict[str, Any]
    ) -> None:
        billing = {"period": "quarter", "timezone": "Asia/Shanghai", "currency": "CNY", "base_fee": 50000, "cap": 20000}
        body = await ok(await client.post("/v1/agreements", json=sla(billing=billing)), 201)
        assert body["billing"] == {**billing, "base_fee": "50000.00", "cap": "20000.00"}
        (event,) = await events(session, "agreement.upserted")
        assert event["billing"]["period"] == "quarter"

    async def test_amounts_are_answered_as_decimal_strings_in_the_currencys_minor_digits(
        self, client: httpx.AsyncClient, covered: dict[str, Any]
    ) -> None:
        penalties = [{"kind": "per_warning_run", "amount": "12.5", "currency": "JPY"}]
        refused = await client.post("/v1/agreements", json=sla(penalties=penalties))
        assert refused.status_code == 422  # a yen has no minor unit
        penalties = [{"kind": "per_warning_run", "amount": 1200, "currency": "JPY"}]
        billing = {"currency": "JPY", "base_fee": "50000", "cap": 20000.0}
        body = await ok(await client.post("/v1/agreements", json=sla(penalties=penalties, billing=billing)), 201)
        assert body["penalties"] == [{"kind": "per_warning_run", "amount": "1200", "currency": "JPY"}]
        assert (body["billing"]["base_fee"], body["billing"]["cap"]) == ("50000", "20000")

    async def test_ola_between_departments(self, client: httpx.AsyncClient, covered: dict[str, Any]) -> None:
        body = await ok(
            await client.post("/v1/agreements", json=sla(key="ops-field", kind="ola", customer="field", scope={})),
            201,
        )
        assert body["kind"] == "ola"

    @pytest.mark.parametrize(
        ("override", "field"),
        [
            ({"provider": "ghost"}, "provider"),
            ({"kind": "ola", "customer": "acme-corp"}, "customer"),
            ({"covers": [{"commitment_key": "ghost", "target_rate": 0.9}]}, "covers[0].commitment_key"),
            ({"covers": [{"commitment_key": "repair-dispatch-vip", "target_rate": 1.5}]}, "covers.0.target_rate"),
            ({"scope": {"segments": ["ghost"]}}, "scope.segments[0]"),
            (
                {"exemptions": {"force_majeure": [{"from": "2026-07-03T00:00:00Z", "to": "2026-07-01T00:00:00Z"}]}},
                "exemptions.force_majeure[0].to",
            ),
            ({"penalties": [{"kind": "under_target", "currency": "CNY"}]}, "penalties[0]"),
            (
                {"penalties": [{"kind": "per_warning_run", "amount": -5, "currency": "CNY"}]},
                "penalties.0.per_warning_run.amount",
            ),
            ({"billing": {"period": "week"}}, "billing.period"),
            ({"billing": {"timezone": "Mars/Olympus"}}, "billing.timezone"),
            ({"billing": {"base_fee": 1000}}, "billing"),
            ({"billing": {"currency": "EUR"}}, "penalties[0].currency"),
            (
                {"penalties": [{"kind": "per_warning_run", "amount": "0.005", "currency": "CNY"}]},
                "penalties.0.per_warning_run",
            ),
        ],
    )
    async def test_bad_terms_are_422_naming_the_field(
        self, client: httpx.AsyncClient, covered: dict[str, Any], override: dict[str, Any], field: str
    ) -> None:
        problem(await client.post("/v1/agreements", json=sla(**override)), 422, field)


class TestAgreementLifecycle:
    async def test_sign_records_who_and_when(self, client: httpx.AsyncClient, covered: dict[str, Any]) -> None:
        body = await signed(client)
        assert body["status"] == "signed"
        assert body["signed_at"] is not None
        assert [(h["status"], h["by"]) for h in body["history"]] == [
            ("draft", "system"), ("negotiating", "system"), ("signed", "system"),
        ]  # fmt: skip

    async def test_draft_cannot_be_signed_without_negotiation(
        self, client: httpx.AsyncClient, covered: dict[str, Any]
    ) -> None:
        created = await ok(await client.post("/v1/agreements", json=sla()), 201)
        problem(await move(client, created["id"], "signed"), 409, "to")

    async def test_signed_agreement_is_immutable(self, client: httpx.AsyncClient, covered: dict[str, Any]) -> None:
        body = await signed(client)
        response = await client.patch(f"/v1/agreements/{body['id']}", json={"title": "x"}, headers={"If-Match": "*"})
        problem(response, 409, "status")

    async def test_draft_edit_needs_if_match(self, client: httpx.AsyncClient, covered: dict[str, Any]) -> None:
        created = await client.post("/v1/agreements", json=sla())
        id_ = created.json()["id"]
        problem(await client.patch(f"/v1/agreements/{id_}", json={"title": "New"}), 428)
        problem(await client.patch(f"/v1/agreements/{id_}", json={"title": "New"}, headers={"If-Match": '"3"'}), 412)
        body = await ok(
            await client.patch(
                f"/v1/agreements/{id_}", json={"title": "New"}, headers={"If-Match": created.headers["etag"]}
            )
        )
        assert body["title"] == "New"

    async def test_signing_a_new_version_terminates_the_old_one(
        self, client: httpx.AsyncClient, session: AsyncSession, covered: dict[str, Any]
    ) -> None:
        v1 = await signed(client)
        v2 = await ok(await client.post(f"/v1/agreements/{v1['id']}/versions", json={"title": "Acme SLA 2027"}), 201)
        assert (v2["version"], v2["status"], v2["covers"]) == (2, "draft", v1["covers"])
        await ok(await move(client, v2["id"], "negotiating"))
        await ok(await move(client, v2["id"], "signed"))
        old = await ok(await client.get(f"/v1/agreements/{v1['id']}"))
        assert old["status"] == "terminated"
        assert old["history"][-1]["reason"] == "superseded by version 2"
        assert [e["status"] for e in await events(session, "agreement.upserted")][-2:] == ["terminated", "signed"]
        first = await client.get(f"/v1/agreements/{v2['id']}/versions", params={"limit": 1})
        assert [a["version"] for a in (await ok(first))["items"]] == [1]
        assert first.headers["Link"].endswith('rel="next"')
        rest = await ok(
            await client.get(
                f"/v1/agreements/{v2['id']}/versions", params={"limit": 1, "cursor": first.json()["next_cursor"]}
            )
        )
        assert ([a["version"] for a in rest["items"]], rest["next_cursor"]) == ([2], None)

    async def test_terminate(self, client: httpx.AsyncClient, covered: dict[str, Any]) -> None:
        v1 = await signed(client)
        body = await ok(await move(client, v1["id"], "terminated", reason="contract ended"))
        assert body["terminated_at"] is not None
        problem(await move(client, v1["id"], "signed"), 409)

    async def test_list_by_status(self, client: httpx.AsyncClient, covered: dict[str, Any]) -> None:
        await signed(client)
        await ok(await client.post("/v1/agreements", json=sla(key="other")), 201)
        page = await ok(await client.get("/v1/agreements", params={"status": "signed"}))
        assert [a["key"] for a in page["items"]] == ["acme-sla"]


CREDIT = {
    "kind": "availability_credit",
    "commitment_key": "portal-uptime",
    "tiers": [{"below": 0.999, "fee_share": 0.10}, {"below": 0.99, "fee_share": 0.25}],
    "fee": "20000.00",
    "currency": "CNY",
}
OVER_LIMIT = {"kind": "per_outage_over_limit", "commitment_key": "portal-uptime", "amount": 500, "currency": "CNY"}


def tiers(*pairs: tuple[float, float]) -> dict[str, Any]:
    return CREDIT | {"tiers": [{"below": below, "fee_share": share} for below, share in pairs]}


@pytest.fixture
async def every_kind(client: httpx.AsyncClient, covered: dict[str, Any]) -> list[dict[str, Any]]:
    """The duration commitment `covered` beside one commitment of each other kind, all about service portal."""
    await portal(client)
    created = [covered]
    for kind in ("availability", "count", "frequency", "clause"):
        created.append(await ok(await client.post("/v1/commitments", json=kind_body(kind)), 201))
    return created


def service_sla(**overrides: Any) -> dict[str, Any]:
    covers = [
        {"commitment_key": "repair-dispatch-vip", "target_rate": 0.95},
        {"commitment_key": "portal-uptime", "target_rate": 0.999},
        {"commitment_key": "portal-concurrency", "target_rate": 0.95},
        {"commitment_key": "portal-backup", "target_rate": 0.9},
        {"commitment_key": "portal-training", "target_rate": 1.0},
    ]
    return sla(covers=covers, penalties=[CREDIT, OVER_LIMIT], **overrides)


class TestPenaltiesOfKinds:
    async def test_covers_any_kind_and_keeps_the_new_penalties_on_the_feed(
        self, client: httpx.AsyncClient, session: AsyncSession, every_kind: list[dict[str, Any]]
    ) -> None:
        body = await ok(await client.post("/v1/agreements", json=service_sla()), 201)
        assert [c["commitment_key"] for c in body["covers"]][1:] == [c["key"] for c in every_kind[1:]]
        assert body["penalties"] == [
            CREDIT,
            {"kind": "per_outage_over_limit", "commitment_key": "portal-uptime", "amount": "500.00", "currency": "CNY"},
        ]
        (event,) = await events(session, "agreement.upserted")
        assert event["penalties"] == body["penalties"]
        await ok(await move(client, body["id"], "negotiating"))
        assert (await ok(await move(client, body["id"], "signed")))["status"] == "signed"

    @pytest.mark.parametrize(
        ("penalty", "field"),
        [
            (OVER_LIMIT | {"commitment_key": "portal-backup"}, "penalties[1].commitment_key"),
            (OVER_LIMIT | {"commitment_key": "repair-dispatch-vip"}, "penalties[1].commitment_key"),
            (OVER_LIMIT | {"commitment_key": "not-covered"}, "penalties[1].commitment_key"),
            (CREDIT | {"commitment_key": "portal-concurrency"}, "penalties[1].commitment_key"),
            (tiers((0.99, 0.10), (0.999, 0.25)), "penalties[1].tiers[1].below"),
            (tiers((0.999, 0.10), (0.999, 0.25)), "penalties[1].tiers[1].below"),
            (tiers((0.999, 0.25), (0.99, 0.10)), "penalties[1].tiers[1].fee_share"),
            (tiers((0.999, 0.10), (0.99, 0.10)), "penalties[1].tiers[1].fee_share"),
            (tiers((0.999, 0)), "penalties.1.availability_credit.tiers.0.fee_share"),
            (tiers((0.999, 1.5)), "penalties.1.availability_credit.tiers.0.fee_share"),
            (tiers((0, 0.1)), "penalties.1.availability_credit.tiers.0.below"),
            (tiers(), "penalties.1.availability_credit.tiers"),
            (CREDIT | {"fee": "20000.005"}, "penalties.1.availability_credit"),
            ({k: v for k, v in CREDIT.items() if k != "fee"}, "penalties.1.availability_credit.fee"),
            (OVER_LIMIT | {"amount": 0}, "penalties.1.per_outage_over_limit.amount"),
            (OVER_LIMIT | {"currency": "USD"}, "penalties[1].currency"),
        ],
    )
    async def test_a_penalty_that_does_not_fit_is_422_naming_the_field(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        every_kind: list[dict[str, Any]],
        penalty: dict[str, Any],
        field: str,
    ) -> None:
        body = service_sla(billing={"currency": "CNY"})
        body["penalties"] = [{"kind": "per_warning_run", "amount": 200, "currency": "CNY"}, penalty]
        problem(await client.post("/v1/agreements", json=body), 422, field)
        assert await events(session, "agreement.upserted") == []

    async def test_a_clause_is_covered_with_a_target_of_one(
        self, client: httpx.AsyncClient, every_kind: list[dict[str, Any]]
    ) -> None:
        body = service_sla()
        body["covers"][4]["target_rate"] = 0.9
        problem(await client.post("/v1/agreements", json=body), 422, "covers[4].target_rate")
