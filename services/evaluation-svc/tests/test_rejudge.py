"""Back-dated commitment versions: which judged runs they take over, and the audited act that re-judges them."""

from typing import Any

import httpx
import pytest
from evalfactories import at, calendar_w, commitment, event, node_run, process
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.rejudge.rules import JudgedRun, runs_changing_version
from evaluation_svc.rejudge.service import apply_requested
from evaluation_svc.rules import CommitmentVersion
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

PREVIEW = "/internal/v1/rejudgements/preview"
# v1: 6 h / 10 h on calendar W from 2020; runs of March 2026 judged under it
V1 = "c-repair-v1"
V2 = "c-repair-v2"
V2_FROM = "2026-03-04T00:00:00+08:00"


def payload(e: Any) -> dict[str, Any]:
    return dict(e.payload)


def v1_until(instant: str) -> dict[str, Any]:
    return payload(commitment(V1)) | {"effective_to": instant}


def v2(**over: Any) -> dict[str, Any]:
    return payload(commitment(V2, version=2, commitment_limit="PT3H", tolerance_limit="PT5H", effective_from=V2_FROM))


async def history(session: AsyncSession, projection: Projection) -> None:
    """Three runs under v1: r1 before V2_FROM, r2 completed after it (4 h: normal under v1, acceptable under a
    3 h limit), r3 after it and still in progress; r4 of another node; r5 started after it but never judged."""
    await projection.handle_commitment(session, [calendar_w(), process(), commitment(V1)])
    await projection.handle_tracking(
        session,
        [
            node_run("r1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
            node_run("r2", started=at("2026-03-04 10:00"), completed=at("2026-03-04 15:00")),
            node_run("r3", started=at("2026-03-05 10:00")),
            node_run("r4", started=at("2026-03-05 10:00"), completed=at("2026-03-05 11:00"), node_key="dispatch"),
            node_run("r5", started=at("2026-03-05 10:00"), process_key="fault-repair", node_key="survey"),
        ],
    )


def act(**over: Any) -> Any:
    body = {
        "id": "rj-1",
        "commitment_key": "repair-residential",
        "version_id": V2,
        "version": 2,
        "effective_from": V2_FROM,
        "requested_by": "key:quality-manager",
        "requested_at": "2026-12-01T09:00:00+00:00",
        "reason": "loading 2026 history",
        "runs_expected": 2,
        "versions": [v1_until(V2_FROM), v2()],
    }
    body.update(over)
    return event("rejudgement.requested", body["id"], body)


async def commitment_ids(session: AsyncSession) -> dict[str, str | None]:
    rows = await session.execute(text("SELECT id, commitment_id FROM node_runs ORDER BY id"))
    return {r.id: r.commitment_id for r in rows}


class TestRunsChangingVersion:
    def version(self, id_: str, segment: str, start: str, end: str | None = None) -> CommitmentVersion:
        return CommitmentVersion.from_payload(
            payload(commitment(id_, segment_key=segment, effective_from=start, effective_to=end))
        )

    def run(self, id_: str, segment: str, start: str, governed_by: str) -> JudgedRun:
        return JudgedRun(id_, "fault-repair", "repair", segment, at(start), governed_by)

    def test_a_run_keeps_its_version_when_that_version_still_governs_its_start(self) -> None:
        versions = [self.version("a", "default", "2026-01-01T00:00:00+08:00")]
        assert runs_changing_version([self.run("x", "residential", "2026-03-03 10:00", "a")], versions) == []

    def test_a_run_started_in_the_new_versions_range_changes(self) -> None:
        versions = [
            self.version("a", "default", "2026-01-01T00:00:00+08:00", "2026-03-04T00:00:00+08:00"),
            self.version("b", "default", "2026-03-04T00:00:00+08:00"),
        ]
        runs = [self.run("x", "vip", "2026-03-03 23:59", "a"), self.run("y", "vip", "2026-03-04 00:00", "a")]
        assert runs_changing_version(runs, versions) == ["y"]

    def test_a_segments_own_version_takes_its_runs_from_the_default_segments(self) -> None:
        versions = [
            self.version("d", "default", "2026-01-01T00:00:00+08:00"),
            self.version("v", "vip", "2026-03-01T00:00:00+08:00"),
        ]
        runs = [self.run("x", "vip", "2026-03-03 10:00", "d"), self.run("y", "residential", "2026-03-03 10:00", "d")]
        assert runs_changing_version(runs, versions) == ["x"]

    def test_a_run_no_version_would_govern_any_more_changes(self) -> None:
        versions = [self.version("a", "default", "2026-01-01T00:00:00+08:00", "2026-02-01T00:00:00+08:00")]
        assert runs_changing_version([self.run("x", "vip", "2026-03-03 10:00", "a")], versions) == ["x"]


class TestPreview:
    async def test_a_version_starting_after_every_judged_run_changes_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI, internal_headers: dict[str, str]
    ) -> None:
        await history(session, app.state.projection)
        later = "2026-03-06T00:00:00+08:00"
        body = {"version": v2() | {"effective_from": later}, "superseded": [v1_until(later)]}
        response = await client.post(PREVIEW, json=body, headers=internal_headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"runs_changing": 0, "runs": []}

    async def test_lists_the_judged_runs_that_would_change_with_their_judgment_before_and_after(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI, internal_headers: dict[str, str]
    ) -> None:
        await history(session, app.state.projection)
        body = {"version": v2(), "superseded": [v1_until(V2_FROM)]}
        response = await client.post(PREVIEW, json=body, headers=internal_headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["runs_changing"] == 2
        assert [r["run_id"] for r in answer["runs"]] == ["r2", "r3"]
        r2 = answer["runs"][0]
        assert r2["external_id"] == "ext-r2"
        assert r2["before"] == {
            "commitment_key": "repair-residential", "version": 1, "state": "completed_normal", "counted": "PT4H"
        }  # fmt: skip
        assert r2["after"] == {
            "commitment_key": "repair-residential", "version": 2, "state": "completed_acceptable",
            "counted": "PT4H",
        }  # fmt: skip
        assert answer["runs"][1]["before"]["version"] == 1
        assert answer["runs"][1]["after"]["version"] == 2

    async def test_keeps_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI, internal_headers: dict[str, str]
    ) -> None:
        await history(session, app.state.projection)
        before = await commitment_ids(session)
        body = {"version": v2(), "superseded": [v1_until(V2_FROM)]}
        assert (await client.post(PREVIEW, json=body, headers=internal_headers)).status_code == 200
        assert await commitment_ids(session) == before
        versions = await session.execute(text("SELECT id, effective_to FROM ref_commitments ORDER BY id"))
        assert [(r.id, r.effective_to) for r in versions] == [(V1, None)]

    async def test_lists_at_most_the_limit_but_counts_every_run(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI, internal_headers: dict[str, str]
    ) -> None:
        await history(session, app.state.projection)
        body = {"version": v2(), "superseded": [v1_until(V2_FROM)], "limit": 1}
        answer = (await client.post(PREVIEW, json=body, headers=internal_headers)).json()
        assert answer["runs_changing"] == 2
        assert len(answer["runs"]) == 1

    async def test_a_malformed_version_is_422(
        self, client: httpx.AsyncClient, internal_headers: dict[str, str]
    ) -> None:
        response = await client.post(PREVIEW, json={"version": {"id": "x"}}, headers=internal_headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "version"

    async def test_needs_the_service_token(self, client: httpx.AsyncClient) -> None:
        assert (await client.post(PREVIEW, json={"version": v2()})).status_code == 401


class TestAct:
    async def test_rejudges_the_runs_and_records_each_before_and_after(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        projection = app.state.projection
        await history(session, projection)
        await apply_requested(session, projection, [act()])
        ids = await commitment_ids(session)
        assert ids == {"r1": V1, "r2": V2, "r3": V2, "r4": None, "r5": None}
        row = (await session.execute(text("SELECT final_state FROM node_runs WHERE id = 'r2'"))).one()
        assert row.final_state == "completed_acceptable"

        listed = (await client.get("/v1/reports/rejudgements", params={"commitment": "repair-residential"})).json()
        assert len(listed["items"]) == 1
        record = listed["items"][0]
        assert record["id"] == "rj-1"
        assert record["requested_by"] == "key:quality-manager"
        assert record["requested_at"] == "2026-12-01T09:00:00Z"
        assert (record["version"], record["runs_expected"], record["runs"]) == (2, 2, 2)
        assert {(c["before_state"], c["after_state"], c["runs"]) for c in record["state_changes"]} == {
            ("completed_normal", "completed_acceptable", 1),
            ("in_progress_warning", "in_progress_warning", 1),
        }
        runs = (await client.get("/v1/reports/rejudgements/rj-1/runs")).json()
        assert [(r["run_id"], r["before"]["version"], r["after"]["version"]) for r in runs["items"]] == [
            ("r2", 1, 2),
            ("r3", 1, 2),
        ]
        assert runs["items"][0]["before"]["state"] == "completed_normal"
        assert runs["items"][0]["after"]["state"] == "completed_acceptable"

    async def test_the_versions_own_events_after_the_act_change_nothing_more(
        self, session: AsyncSession, app: FastAPI
    ) -> None:
        projection = app.state.projection
        await history(session, projection)
        await apply_requested(session, projection, [act()])
        after_act = await commitment_ids(session)
        await projection.handle_commitment(
            session, [event("commitment.upserted", V1, v1_until(V2_FROM)), event("commitment.upserted", V2, v2())]
        )
        assert await commitment_ids(session) == after_act

    async def test_without_an_act_the_runs_it_would_change_were_not_judged_when_commitment_svc_asked(
        self, session: AsyncSession, app: FastAPI
    ) -> None:
        """commitment-svc puts a back-dated version in force without an act only when its preview lists no judged
        run that would change. A finished run that changes all the same is one this read model judged after the
        preview (its event raced the version's): it is judged by the version in force at its start, unaudited,
        as if it had arrived after the version. No act is recorded."""
        projection = app.state.projection
        await history(session, projection)
        await projection.handle_commitment(
            session, [event("commitment.upserted", V1, v1_until(V2_FROM)), event("commitment.upserted", V2, v2())]
        )
        ids = await commitment_ids(session)
        assert (ids["r1"], ids["r2"], ids["r3"]) == (V1, V2, V2)
        assert (await session.execute(text("SELECT count(*) FROM rejudgements"))).scalar_one() == 0

    async def test_pages_of_runs_follow_one_another(
        self, session: AsyncSession, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        projection = app.state.projection
        await history(session, projection)
        await apply_requested(session, projection, [act()])
        first = (await client.get("/v1/reports/rejudgements/rj-1/runs", params={"limit": 1})).json()
        second = (
            await client.get("/v1/reports/rejudgements/rj-1/runs", params={"limit": 1, "cursor": first["next_cursor"]})
        ).json()
        assert [r["run_id"] for r in first["items"] + second["items"]] == ["r2", "r3"]
        assert second["next_cursor"] is None

    @pytest.mark.parametrize(
        ("path", "params"),
        [("/v1/reports/rejudgements", {"process": "x"}), ("/v1/reports/rejudgements/rj-1/runs", {"state": "x"})],
    )
    async def test_a_parameter_the_route_does_not_apply_is_422(
        self, client: httpx.AsyncClient, path: str, params: dict[str, str]
    ) -> None:
        response = await client.get(path, params=params)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == f"query.{next(iter(params))}"

    async def test_an_unknown_act_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/v1/reports/rejudgements/nope")).status_code == 404
        assert (await client.get("/v1/reports/rejudgements/nope/runs")).status_code == 404
