"""The feed's contract (`commitment_svc.feed`): its JSON Schema file is current, and every event the real code
writes — the demo organisation, deletions, a re-judging act — is one the schema accepts."""

from typing import Any

import httpx
import pydantic
import pytest
from commitment_svc import feed
from pledge_dev.demo_org import load_demo_org
from pledge_dev.feeds import example_mismatches, schema_drift, schema_errors
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from support import KIND_BODIES, FakeEvaluation, active_commitment, commitment_body, kind_body, ok, portal

SERVICE = "commitment-svc"
RUN = {
    "run_id": "run-7",
    "external_id": "WO-7",
    "started_at": "2026-02-03T10:00:00+08:00",
    "before": {"commitment_key": "repair-dispatch-vip", "version": 1, "state": "completed_normal"},
    "after": {"commitment_key": "repair-dispatch-vip", "version": 2, "state": "completed_acceptable"},
}


async def written(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(text("SELECT type, key, payload FROM outbox ORDER BY seq"))
    return [{"type": r.type, "key": r.key, "payload": r.payload} for r in rows]


async def every_kind_of_event(client: httpx.AsyncClient, evaluation: FakeEvaluation) -> None:
    await load_demo_org(client, kpi_targets=False)
    for path, body in (
        ("/v1/segments/gone", {"name": "Gone"}),
        ("/v1/departments/gone", {"name": "Gone"}),
        ("/v1/calendars/gone", {"name": "Gone", "timezone": "UTC", "weekly": {"0": [["09:00", "17:00"]]}}),
        ("/v1/processes/gone", {"name": "Gone", "nodes": [{"key": "only", "name": "Only"}]}),
    ):
        await ok(await client.put(path, json=body), 201)
        assert (await client.delete(path)).status_code == 204, path
    draft = await ok(await client.post("/v1/commitments", json=commitment_body(key="a-draft")), 201)
    assert (await client.delete(f"/v1/commitments/{draft['id']}")).status_code == 204
    v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
    v2 = await ok(await client.post(f"/v1/commitments/{v1['id']}/versions", json={"commitment_limit": "PT4H"}), 201)
    await ok(await client.post(f"/v1/commitments/{v2['id']}/transitions", json={"to": "negotiating"}))
    evaluation.changing = [RUN]
    await ok(
        await client.post(
            f"/v1/commitments/{v2['id']}/transitions",
            json={"to": "active", "effective_from": "2026-02-01T00:00:00+08:00", "rejudge": True},
        )
    )
    await portal(client)
    for kind in KIND_BODIES:  # every shape of objective
        await ok(await client.post("/v1/commitments", json=kind_body(kind)), 201)


class TestFeedContract:
    def test_the_schema_file_is_current(self) -> None:
        assert schema_drift(SERVICE, feed.schema()) is None, schema_drift(SERVICE, feed.schema())

    async def test_every_event_written_matches_the_schema(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        await every_kind_of_event(client, evaluation)
        events = await written(session)
        assert {e["type"] for e in events} == set(feed.EVENTS)
        assert schema_errors(feed.schema(), events) == []
        assert example_mismatches(SERVICE, feed.schema(), events) == []

    def test_a_payload_missing_a_field_is_never_written(self) -> None:
        with pytest.raises(pydantic.ValidationError):
            feed.payload("commitment.deleted", {"id": "7c3f1a52-0d4b-4a57-9a57-1f1f3bb0e001"})
