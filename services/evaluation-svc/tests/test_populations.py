"""Populations are never mixed; cancelled / exempted / unjudged decided by one rule in every report."""

from typing import Any

import httpx
import pytest
from evalfactories import agreement, at, calendar_w, commitment, node_run, process, ticket
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.reports.populations import disposition, population_of
from sqlalchemy.ext.asyncio import AsyncSession

NODES = ("dispatch", "visit", "repair")
WEEK = {"from": at("2026-03-02 00:00").isoformat(), "to": at("2026-03-09 00:00").isoformat()}
AS_OF = {"as_of": at("2026-03-04 00:00").isoformat()}


async def setup_a5(session: AsyncSession) -> None:
    """DESIGN A5: a process with 3 nodes and an end-to-end commitment; 10 tickets through it."""
    projection = Projection()
    commitments = [commitment(f"c-{n}", key=f"grid-{n}", process_key="grid", node_key=n) for n in NODES]
    commitments.append(commitment("c-e2e", key="grid-e2e", process_key="grid", node_key=None, commitment_limit="PT8H"))
    await projection.handle_commitment(session, [calendar_w(), process("grid", NODES), *commitments])
    events = []
    for i in range(10):
        t = f"T{i}"
        events.append(ticket(t, process_key="grid", opened=at("2026-03-03 09:00"), closed=at("2026-03-03 17:00")))
        for j, n in enumerate(NODES):
            events.append(
                node_run(
                    f"{t}-{n}",
                    ticket_id=t,
                    process_key="grid",
                    node_key=n,
                    started=at(f"2026-03-03 {10 + 2 * j}:00"),
                    completed=at(f"2026-03-03 {11 + 2 * j}:00"),
                )
            )
    await projection.handle_tracking(session, events)


def figures(body: dict[str, Any]) -> list[int]:
    """Every run count a report shows (rows, totals, groups, overall)."""
    parts = [*body.get("rows", ()), *body.get("totals", ()), *body.get("groups", ()), *body.get("overall", ())]
    return [p["total"] if "total" in p else p["runs"] for p in parts]


class TestPopulationsAreNeverMixed:
    async def test_a5_status_by_process_and_node(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await setup_a5(session)
        body = (await client.get("/v1/reports/status", params=AS_OF)).json()
        assert [(r["population"], r["group"]["node"], r["total"]) for r in body["rows"]] == [
            ("end_to_end", None, 10),
            ("node", "dispatch", 10),
            ("node", "repair", 10),
            ("node", "visit", 10),
        ]
        assert [(t["population"], t["group"], t["total"]) for t in body["totals"]] == [
            ("node", {"process": "grid"}, 30),
            ("end_to_end", {"process": "grid"}, 10),
        ]
        assert 40 not in figures(body)

    async def test_a5_status_by_process_keeps_the_end_to_end_row_apart(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_a5(session)
        body = (await client.get("/v1/reports/status", params={**AS_OF, "group_by": "process"})).json()
        assert [(r["population"], r["group"], r["total"]) for r in body["rows"]] == [
            ("node", {"process": "grid"}, 30),
            ("end_to_end", {"process": "grid"}, 10),
        ]
        assert 40 not in figures(body)

    async def test_a5_status_links_list_each_population_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await setup_a5(session)
        body = (await client.get("/v1/reports/status", params={**AS_OF, "group_by": "process"})).json()
        for row in body["rows"]:
            page = (await client.get(row["links"]["all"] + "&limit=100")).json()
            kinds = {r["kind"] for r in page["items"]}
            assert (len(page["items"]), kinds) == ((30, {"node"}) if row["population"] == "node" else (10, {"ticket"}))

    async def test_a5_achievement_groups_and_overall(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await setup_a5(session)
        body = (await client.get("/v1/reports/achievement", params={**WEEK, "group_by": "process"})).json()
        assert [(g["population"], g["runs"], g["judged"]) for g in body["groups"]] == [
            ("node", 30, 30),
            ("end_to_end", 10, 10),
        ]
        assert [(o["population"], o["runs"]) for o in body["overall"]] == [("node", 30), ("end_to_end", 10)]
        assert 40 not in figures(body)
        only_nodes = (await client.get("/v1/reports/achievement", params={**WEEK, "scope": "node"})).json()
        assert [(o["population"], o["runs"]) for o in only_nodes["overall"]] == [("node", 30)]

    async def test_a5_rankings_rank_one_population(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await setup_a5(session)
        params = {**WEEK, "min_sample": 1}
        nodes = (await client.get("/v1/reports/rankings", params=params)).json()
        assert nodes["population"] == "node"
        assert [(g["key"], g["runs"]) for g in nodes["ranked"]] == [("field", 30)]
        e2e = (await client.get("/v1/reports/rankings", params={**params, "scope": "end_to_end"})).json()
        assert (e2e["population"], [(g["key"], g["runs"]) for g in e2e["ranked"]]) == ("end_to_end", [("field", 10)])
        both = await client.get("/v1/reports/rankings", params={**params, "scope": "all"})
        assert both.status_code == 422
        assert both.json()["errors"][0]["field"] == "query.scope"


@pytest.mark.parametrize(
    ("state", "exempted", "expected"),
    [
        ("cancelled", True, "cancelled"),
        ("cancelled", False, "cancelled"),
        ("completed_warning", True, "exempted"),
        ("in_progress_normal", True, "exempted"),
        ("completed_normal", False, "judged"),
        ("in_progress_warning", False, "judged"),
        ("unjudged", False, "unjudged"),
        ("unjudged", True, "exempted"),
    ],
)
def test_one_disposition_per_run_cancelled_first(state: str, exempted: bool, expected: str) -> None:
    assert disposition(state, exempted) == expected


def test_a_run_without_a_node_is_end_to_end() -> None:
    assert (population_of("repair"), population_of(None), population_of("")) == ("node", "end_to_end", "end_to_end")


class TestCancelledInsideForceMajeure:
    async def setup(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
        await projection.handle_tracking(
            session,
            [
                node_run("storm-cancelled", started=at("2026-03-03 10:00"), cancelled=at("2026-03-03 12:00")),
                node_run("storm-done", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
                node_run("calm", started=at("2026-03-05 10:00"), completed=at("2026-03-05 11:00")),
            ],
        )
        await projection.handle_commitment(
            session, [agreement(force_majeure=((at("2026-03-03 00:00"), at("2026-03-04 00:00"), "typhoon"),))]
        )

    async def test_status_and_achievement_agree(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await self.setup(session)
        [row] = (await client.get("/v1/reports/status", params={**WEEK, "group_by": "process"})).json()["rows"]
        assert (row["counts"]["cancelled"], row["exempted"], row["total"]) == (1, 1, 3)
        [group] = (await client.get("/v1/reports/achievement", params={**WEEK, "group_by": "process"})).json()["groups"]
        assert (group["cancelled"], group["exempted"], group["judged"], group["runs"]) == (1, 1, 1, 3)

    async def test_the_agreement_review_and_settlement_say_the_same(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await self.setup(session)
        review = (await client.get("/v1/reports/agreements/sla-1", params=WEEK)).json()
        [covered] = review["commitments"]
        assert (covered["runs"], covered["cancelled"], covered["excluded"]) == (2, 1, 1)
        march = (await client.get("/v1/reports/agreements/sla-1/settlements/2026-03")).json()
        assert [r["node_run_id"] for r in march["excluded"]] == ["storm-done"]

    async def test_the_runs_list_says_the_same(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await self.setup(session)
        items = (await client.get("/v1/reports/status/runs", params=WEEK)).json()["items"]
        assert {r["id"]: (r["state"], r["exempted"]) for r in items} == {
            "calm": ("completed_normal", False),
            "storm-cancelled": ("cancelled", False),
            "storm-done": ("completed_normal", True),
        }
