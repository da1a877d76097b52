"""A version put in force from a past instant: allowed when no judged run changes its governing version,
refused (409 listing them) when some would, unless the caller asks to re-judge them — an audited act."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from support import FakeEvaluation, active_commitment, commitment_body, events, ok, problem

PAST = "2026-02-01T00:00:00+08:00"
RUN = {
    "run_id": "run-7",
    "external_id": "WO-7",
    "started_at": "2026-02-03T10:00:00+08:00",
    "before": {"commitment_key": "repair-dispatch-vip", "version": 1, "state": "completed_normal"},
    "after": {"commitment_key": "repair-dispatch-vip", "version": 2, "state": "completed_acceptable"},
}


async def transition(client: httpx.AsyncClient, id_: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v1/commitments/{id_}/transitions", json=body)


async def negotiating_v2(client: httpx.AsyncClient, v1: dict[str, Any]) -> dict[str, Any]:
    v2 = await ok(await client.post(f"/v1/commitments/{v1['id']}/versions", json={"commitment_limit": "PT4H"}), 201)
    return await ok(await transition(client, v2["id"], to="negotiating"))  # type: ignore[no-any-return]


async def versions(client: httpx.AsyncClient, id_: str) -> list[tuple[int, str, str | None, str | None]]:
    listed = await ok(await client.get(f"/v1/commitments/{id_}/versions"))
    return [(v["version"], v["status"], v["effective_from"], v["effective_to"]) for v in listed["items"]]


def soon(days: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


class TestBackdatedVersion:
    async def test_is_put_in_force_when_no_judged_run_would_change(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        activated = await ok(await transition(client, v2["id"], to="active", effective_from=PAST))
        assert activated["effective_from"] == "2026-01-31T16:00:00Z"
        assert await versions(client, v1["id"]) == [
            (1, "active", "2024-12-31T16:00:00Z", "2026-01-31T16:00:00Z"),
            (2, "active", "2026-01-31T16:00:00Z", None),
        ]

    async def test_asks_evaluation_with_the_versions_as_they_would_be(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        evaluation.reset()
        await ok(await transition(client, v2["id"], to="active", effective_from=PAST))
        [asked] = evaluation.requests
        start = datetime.fromisoformat(PAST)
        assert asked["version"]["id"] == v2["id"]
        assert (asked["version"]["status"], asked["version"]["commitment_limit"]) == ("active", "PT4H")
        assert datetime.fromisoformat(asked["version"]["effective_from"]) == start
        assert [s["id"] for s in asked["superseded"]] == [v1["id"]]
        assert datetime.fromisoformat(asked["superseded"][0]["effective_to"]) == start

    async def test_a_first_version_starting_in_the_past_is_checked_too(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        # runs of the segment may be judged by the `default` segment's version, which this one would replace
        evaluation.changing = [RUN]
        created = await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        await ok(await transition(client, created["id"], to="negotiating"))
        problem(await transition(client, created["id"], to="active", effective_from=PAST), 409, "effective_from")
        assert evaluation.requests[-1]["superseded"] == []

    async def test_a_start_from_now_on_asks_nothing(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from=soon(1))
        v2 = await negotiating_v2(client, v1)
        evaluation.changing = [RUN]
        await ok(await transition(client, v2["id"], to="active", effective_from=soon(2)))
        assert evaluation.requests == []

    async def test_is_refused_with_the_runs_it_would_change(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        evaluation.changing = [RUN]
        published = len(await events(session, "commitment.upserted"))
        body = problem(await transition(client, v2["id"], to="active", effective_from=PAST), 409, "effective_from")
        assert body["runs_changing"] == 1
        assert body["runs"] == [RUN]
        assert "rejudge" in body["detail"]
        # nothing written: v1 still governs, v2 still negotiating, nothing on the feed
        assert await versions(client, v1["id"]) == [
            (1, "active", "2024-12-31T16:00:00Z", None),
            (2, "negotiating", None, None),
        ]
        assert len(await events(session, "commitment.upserted")) == published
        assert await events(session, "rejudgement.requested") == []

    async def test_with_rejudge_is_put_in_force_and_the_act_goes_on_the_feed_before_the_versions(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        evaluation.changing = [RUN]
        activated = await ok(
            await transition(client, v2["id"], to="active", effective_from=PAST, rejudge=True, reason="history")
        )
        assert activated["status"] == "active"
        [act] = await events(session, "rejudgement.requested")
        assert (act["commitment_key"], act["version_id"], act["version"]) == ("repair-dispatch-vip", v2["id"], 2)
        assert (act["requested_by"], act["reason"], act["runs_expected"]) == ("system", "history", 1)
        assert [v["id"] for v in act["versions"]] == [v1["id"], v2["id"]]
        start = datetime.fromisoformat(act["effective_from"]).isoformat()
        reason = f"history; re-judges 1 run(s) from {start} (rejudgement {act['id']})"
        assert activated["history"][-1]["reason"] == reason
        order = await session.execute(
            text("SELECT type, key FROM outbox WHERE type IN ('rejudgement.requested', 'commitment.upserted')"
                 " ORDER BY seq DESC LIMIT 3")
        )  # fmt: skip
        assert [r.type for r in order][::-1] == ["rejudgement.requested", "commitment.upserted", "commitment.upserted"]

    async def test_with_rejudge_and_nothing_to_rejudge_records_no_act(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        await ok(await transition(client, v2["id"], to="active", effective_from=PAST, rejudge=True))
        assert await events(session, "rejudgement.requested") == []

    async def test_evaluation_unavailable_is_503_and_nothing_changes(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2025-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        evaluation.status = 503
        problem(await transition(client, v2["id"], to="active", effective_from=PAST), 503)
        assert (await versions(client, v1["id"]))[0][3] is None

    async def test_rejudge_on_another_transition_is_422(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client)
        problem(await transition(client, v1["id"], to="retired", rejudge=True), 422, "rejudge")

    async def test_still_cannot_start_before_the_version_it_replaces(
        self, client: httpx.AsyncClient, org: dict[str, Any], evaluation: FakeEvaluation
    ) -> None:
        v1 = await active_commitment(client, effective_from="2026-01-01T00:00:00+08:00")
        v2 = await negotiating_v2(client, v1)
        problem(await transition(client, v2["id"], to="active", effective_from="2025-12-01T00:00:00+08:00",
                                 rejudge=True), 409, "effective_from")  # fmt: skip
