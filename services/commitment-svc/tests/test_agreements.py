"""Agreements (SLA/OLA): references, lifecycle with who and when, immutability once signed, versions."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from support import active_commitment, events, ok, problem

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
