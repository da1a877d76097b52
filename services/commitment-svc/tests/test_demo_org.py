"""The demo organisation (pledge_dev.demo_org) loads through the API, twice without change."""

import httpx
from pledge_dev.demo_org import COMMITMENTS, demo_org_loaded, load_demo_org
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from support import ok


async def outbox_size(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT count(*) FROM outbox")) or 0)


class TestLoadDemoOrg:
    async def test_loads_everything_active_and_signed(self, client: httpx.AsyncClient) -> None:
        assert await demo_org_loaded(client) is False
        await load_demo_org(client, kpi_targets=False)
        assert await demo_org_loaded(client) is True
        active = await ok(await client.get("/v1/commitments", params={"status": "active", "limit": 500}))
        kinds = {c["key"]: c["kind"] for c in active["items"]}
        assert len(kinds) == len(COMMITMENTS) + 3  # the node commitments and the cloud customer's three
        assert {kinds["cloud-uptime"], kinds["cloud-backup"], kinds["cloud-training"]} == {
            "availability", "frequency", "clause"}  # fmt: skip
        signed = await ok(await client.get("/v1/agreements", params={"status": "signed"}))
        assert {a["kind"] for a in signed["items"]} == {"sla", "ola"}
        calendar = await ok(await client.get("/v1/calendars/cn-business"))
        assert calendar["holidays"]
        assert calendar["extra_working_days"]

    async def test_running_twice_changes_nothing(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await load_demo_org(client, kpi_targets=False)
        before = await outbox_size(session)
        await load_demo_org(client, kpi_targets=False)
        assert await outbox_size(session) == before

    async def test_complaint_severities_resolve_to_their_commitments(self, client: httpx.AsyncClient) -> None:
        await load_demo_org(client, kpi_targets=False)
        for severity, limit in (("simple", "PT15M"), ("general", "PT1H"), ("major", "PT1H")):
            params = {"process": "complaint-handling", "node": "acknowledge", "segment": severity}
            body = await ok(await client.get("/v1/commitments/resolve", params=params))
            assert (body["segment"], body["commitment_limit"]) == (severity, limit)
        params = {"process": "complaint-handling", "node": "resolve", "segment": "major"}
        body = await ok(await client.get("/v1/commitments/resolve", params=params))
        assert (body["limit_unit"], body["commitment_limit"]) == ("business_days", "P3D")

    async def test_residential_survey_falls_back_and_enterprise_uses_default(self, client: httpx.AsyncClient) -> None:
        await load_demo_org(client, kpi_targets=False)
        base = {"process": "new-connection", "node": "survey"}
        residential = await ok(await client.get("/v1/commitments/resolve", params={**base, "segment": "residential"}))
        enterprise = await ok(await client.get("/v1/commitments/resolve", params={**base, "segment": "enterprise"}))
        assert (residential["key"], enterprise["key"]) == ("nc-survey-residential", "nc-survey")
