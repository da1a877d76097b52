"""The copy of commitment-svc's catalogue, fed by its feed: what ingest validates keys against."""

import httpx
from conftest import ev, feed_event, process_upserted, segment_upserted
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tracking_svc.catalogue.consumer import apply_commitment_events


class TestApplyCommitmentEvents:
    async def test_process_upserted_makes_its_nodes_known_with_their_defaults(self, session: AsyncSession) -> None:
        await apply_commitment_events(session, [process_upserted("p1", ["a", "b"])])
        rows = (
            await session.execute(text("SELECT node_key, department, position_key FROM known_nodes ORDER BY position"))
        ).all()
        assert [tuple(r) for r in rows] == [("a", "dept-a", "agent"), ("b", "dept-b", "agent")]

    async def test_later_upsert_replaces_the_nodes(self, session: AsyncSession) -> None:
        await apply_commitment_events(session, [process_upserted("p1", ["a", "b"]), process_upserted("p1", ["c"])])
        assert (await session.execute(text("SELECT node_key FROM known_nodes"))).scalars().all() == ["c"]

    async def test_replaying_the_same_events_is_harmless(self, session: AsyncSession) -> None:
        batch = [process_upserted("p1", ["a"]), segment_upserted("vip")]
        await apply_commitment_events(session, batch)
        await apply_commitment_events(session, batch)
        assert await session.scalar(text("SELECT count(*) FROM known_nodes")) == 1
        assert await session.scalar(text("SELECT count(*) FROM known_segments")) == 1

    async def test_unrelated_event_types_are_ignored(self, session: AsyncSession) -> None:
        await apply_commitment_events(session, [feed_event("calendar.upserted", "w", {"key": "w"})])
        assert await session.scalar(text("SELECT count(*) FROM known_processes")) == 0

    async def test_deleted_process_is_refused_for_new_events(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await apply_commitment_events(session, [process_upserted("p1", ["a"])])
        assert (await client.post("/v1/events", json=ev("e1", "node.started", 0, "a", process="p1"))).status_code == 201
        await apply_commitment_events(session, [feed_event("process.deleted", "p1", {"key": "p1"})])
        response = await client.post("/v1/events", json=ev("e2", "node.completed", 1, "a", process="p1"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "ticket.process"
        assert (await client.get("/v1/tickets/crm:WO-1")).status_code == 200  # its tickets stay


class TestGetKnownProcess:
    async def test_known_process_answers_its_nodes_in_order(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await apply_commitment_events(session, [process_upserted("p1", ["b", "a"])])
        response = await client.get("/v1/known-processes/p1")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["key"] == "p1"
        assert [(n["key"], n["position"], n["department"]) for n in body["nodes"]] == [
            ("b", 1, "dept-b"),
            ("a", 2, "dept-a"),
        ]

    async def test_unknown_process_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/known-processes/nope")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_deleted_process_is_unknown(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await apply_commitment_events(
            session, [process_upserted("p1", ["a"]), feed_event("process.deleted", "p1", {"key": "p1"})]
        )
        assert (await client.get("/v1/known-processes/p1")).status_code == 404
