"""The read model of the kinds of commitment: services, kind commitments and service facts from the feeds."""

from typing import Any

from evalfactories import (
    at,
    calendar_w,
    commitment,
    deliverable,
    event,
    kind_commitment,
    node_run,
    occurrence,
    outage,
    process,
    sample,
    service,
)
from evaluation_svc.readmodel.service import Projection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def rows(session: AsyncSession, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(m) for m in (await session.execute(text(sql), params)).mappings()]


class TestKindCommitments:
    async def test_a_service_and_an_availability_commitment_are_copied_with_their_objective(
        self, session: AsyncSession
    ) -> None:
        await Projection().handle_commitment(session, [service(), kind_commitment()])
        [svc] = await rows(session, "SELECT * FROM ref_services")
        assert (svc["key"], svc["customer_ref"], svc["segment"]) == ("erp", "acme", "default")
        [c] = await rows(session, "SELECT * FROM ref_kind_commitments")
        assert (c["kind"], c["service_key"], c["commitment_limit"]) == ("availability", "erp", "PT4H")
        assert c["objective"] == {"max_outages": 60, "max_downtime": "P8D", "planned_maintenance_exempt": True}

    async def test_a_non_duration_commitment_is_never_a_node_commitment(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), service(), kind_commitment()])
        assert await rows(session, "SELECT id FROM ref_commitments") == []
        # a run of a process is judged by node commitments only: here by none
        await projection.handle_tracking(session, [node_run("r1", started=at("2026-03-03 10:00"))])
        [run] = await rows(session, "SELECT commitment_id FROM node_runs WHERE id = 'r1'")
        assert run["commitment_id"] is None

    async def test_a_version_id_that_changes_kind_leaves_the_node_commitments_and_its_runs_are_rejudged(
        self, session: AsyncSession
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), commitment("c-x")])
        await projection.handle_tracking(session, [node_run("r1", started=at("2026-03-03 10:00"))])
        assert (await rows(session, "SELECT commitment_id FROM node_runs"))[0]["commitment_id"] == "c-x"
        await projection.handle_commitment(session, [service(), kind_commitment("c-x")])
        assert await rows(session, "SELECT id FROM ref_commitments") == []
        assert (await rows(session, "SELECT commitment_id FROM node_runs"))[0]["commitment_id"] is None
        assert [r["id"] for r in await rows(session, "SELECT id FROM ref_kind_commitments")] == ["c-x"]

    async def test_each_kind_keeps_its_obligation_and_objective(self, session: AsyncSession) -> None:
        events = [
            service(),
            kind_commitment(
                "c-users",
                kind="count",
                key="users",
                obligation_key="peak-users",
                commitment_limit=None,
                tolerance_limit=None,
                objective={"direction": "at_least", "limit": 1000, "tolerance": 900, "unit": "users"},
            ),
            kind_commitment(
                "c-backup",
                kind="frequency",
                key="backup",
                obligation_key="db-backup",
                commitment_limit="P2D",
                tolerance_limit="P3D",
                objective={"first_due_at": None},
            ),
            kind_commitment(
                "c-training",
                kind="clause",
                key="training",
                obligation_key="staff-training",
                commitment_limit=None,
                tolerance_limit=None,
                objective={"due_at": "2026-06-30T10:00:00Z", "tolerance_due_at": None, "requires_sign_off": True},
            ),
        ]
        await Projection().handle_commitment(session, events)
        got = await rows(session, "SELECT id, kind, obligation_key FROM ref_kind_commitments ORDER BY id")
        assert [(r["id"], r["kind"], r["obligation_key"]) for r in got] == [
            ("c-backup", "frequency", "db-backup"),
            ("c-training", "clause", "staff-training"),
            ("c-users", "count", "peak-users"),
        ]

    async def test_a_kind_commitment_without_its_service_is_skipped(self, session: AsyncSession) -> None:
        await Projection().handle_commitment(session, [kind_commitment(service_key="")])
        assert await rows(session, "SELECT id FROM ref_kind_commitments") == []

    async def test_a_deleted_draft_is_forgotten(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [kind_commitment("c-d", status="draft")])
        await projection.handle_commitment(session, [event("commitment.deleted", "c-d", {"id": "c-d"})])
        assert await rows(session, "SELECT id FROM ref_kind_commitments") == []


class TestServiceFacts:
    async def test_an_outage_keeps_its_last_state_whatever_arrived_first(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_tracking(session, [outage("o1", None, at("2026-03-03 12:00"))])
        [row] = await rows(session, "SELECT started_at, ended_at FROM service_outages")
        assert row == {"started_at": None, "ended_at": at("2026-03-03 12:00")}
        await projection.handle_tracking(
            session, [outage("o1", at("2026-03-03 10:00"), at("2026-03-03 12:00"), weight=0.5, planned=True)]
        )
        [row] = await rows(session, "SELECT started_at, ended_at, planned, weight FROM service_outages")
        assert row == {
            "started_at": at("2026-03-03 10:00"),
            "ended_at": at("2026-03-03 12:00"),
            "planned": True,
            "weight": 0.5,
        }

    async def test_samples_occurrences_and_deliverables_are_copied_once_each(self, session: AsyncSession) -> None:
        projection = Projection()
        facts = [
            sample("s1", at("2026-03-03 10:00"), 1200),
            sample("s1", at("2026-03-03 10:00"), 1200),  # redelivered
            occurrence("q1", at("2026-03-02 22:00")),
            deliverable("d1", at("2026-06-28 10:00")),
        ]
        await projection.handle_tracking(session, facts)
        await projection.handle_tracking(session, [deliverable("d1", at("2026-06-28 10:00"), at("2026-06-29 10:00"))])
        assert [r["value"] for r in await rows(session, "SELECT value FROM service_samples")] == [1200]
        assert len(await rows(session, "SELECT id FROM service_occurrences")) == 1
        [d] = await rows(session, "SELECT delivered_at, signed_off_at, signed_by FROM service_deliverables")
        assert d == {
            "delivered_at": at("2026-06-28 10:00"),
            "signed_off_at": at("2026-06-29 10:00"),
            "signed_by": "li.wei@acme",
        }

    async def test_a_malformed_fact_is_skipped_and_the_others_are_kept(self, session: AsyncSession) -> None:
        bad = event(
            "sample.recorded", "s2", {"id": "s2", "service_key": "erp", "obligation_key": "u", "at": "soon", "value": 1}
        )
        await Projection().handle_tracking(session, [bad, sample("s3", at("2026-03-03 10:00"), 5)])
        assert [r["id"] for r in await rows(session, "SELECT id FROM service_samples")] == ["s3"]
