"""Complaint analysis: the Pareto and the repeat rate (worked examples), breakdowns by the new dimensions."""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from feedback_svc.complaints.analysis import (
    Adjustment,
    ParetoItem,
    adjustments,
    pareto,
    repeat_rate,
    starts_period,
)
from test_complaints import RESOLVE, complaint_body, file, move
from upstreams import Upstreams

PROBLEM = "application/problem+json"


class TestParetoWorkedExamples:
    def test_vital_few_reach_eighty_percent(self) -> None:
        items = pareto([("meter", 15), ("billing", 50), ("other", 5), ("outage", 30)])
        assert items == [
            ParetoItem("billing", 50, 0.5, 0.5, True),
            ParetoItem("outage", 30, 0.3, 0.8, True),
            ParetoItem("meter", 15, 0.15, 0.95, False),
            ParetoItem("other", 5, 0.05, 1.0, False),
        ]

    def test_the_row_that_crosses_the_threshold_is_vital(self) -> None:
        # 6/10 then 9/10: the second row crosses 80 %, so both are vital, the third is not
        items = pareto([("a", 6), ("b", 3), ("c", 1)])
        assert [(i.key, i.vital) for i in items] == [("a", True), ("b", True), ("c", False)]

    def test_ties_sort_by_key_with_the_empty_key_last_and_zeros_dropped(self) -> None:
        items = pareto([(None, 2), ("b", 2), ("a", 2), ("z", 0)])
        assert [i.key for i in items] == ["a", "b", None]
        assert [i.cumulative_share for i in items] == [0.3333, 0.6667, 1.0]

    def test_a_lower_threshold_keeps_fewer(self) -> None:
        items = pareto([("a", 50), ("b", 30), ("c", 20)], threshold=0.5)
        assert [i.vital for i in items] == [True, False, False]

    def test_nothing_counted_gives_no_rows(self) -> None:
        assert pareto([]) == []


class TestRepeatRateWorkedExamples:
    def test_repeats_over_received(self) -> None:
        assert repeat_rate(40, 6) == 0.15

    def test_nothing_received_has_no_rate(self) -> None:
        assert repeat_rate(0, 0) is None


AT = "2026-03-03T10:00:00+08:00"


async def seed(client: httpx.AsyncClient) -> dict[str, Any]:
    """billing  x3 (two by C-1: the second repeats the first), outage  x1; two resolved with root causes."""
    first = await file(client, customer="C-1", category="billing", received_at=AT)
    second = await file(client, customer="C-1", category="billing", received_at="2026-03-05T10:00:00+08:00")
    await file(client, customer="C-2", category="billing", received_at=AT)
    outage = await file(client, customer="C-3", category="outage", received_at=AT)
    for c in (first, outage):
        await move(client, c["id"], "acknowledged")
    await move(client, first["id"], "resolved", **RESOLVE)
    await move(client, outage["id"], "resolved", resolution="restored", root_cause="line-fault")
    return {"first": first, "second": second, "outage": outage}


class TestComplaintParetoHttp:
    async def test_pareto_by_category(self, client: httpx.AsyncClient) -> None:
        await seed(client)
        response = await client.get("/v1/complaints/pareto", params={"by": "category"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 4
        assert body["threshold"] == 0.8
        assert [(r["key"], r["count"], r["cumulative_share"], r["vital"]) for r in body["rows"]] == [
            ("billing", 3, 0.75, True),
            ("outage", 1, 1.0, True),
        ]

    async def test_pareto_by_root_cause_counts_unresolved_under_null(self, client: httpx.AsyncClient) -> None:
        await seed(client)
        body = (await client.get("/v1/complaints/pareto", params={"by": "root_cause", "threshold": 0.5})).json()
        # the two unresolved ones come first and already reach half
        assert [(r["key"], r["count"], r["vital"]) for r in body["rows"]] == [
            (None, 2, True),
            ("billing-system", 1, False),
            ("line-fault", 1, False),
        ]

    async def test_pareto_filters_by_period_and_department(self, client: httpx.AsyncClient) -> None:
        await seed(client)
        params = {"by": "department", "from": "2026-03-04T00:00:00+08:00", "department": "call-centre"}
        body = (await client.get("/v1/complaints/pareto", params=params)).json()
        assert [(r["key"], r["count"]) for r in body["rows"]] == [("call-centre", 1)]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"by": "colour"}, "query.by"),
            ({}, "query.by"),
            ({"by": "category", "threshold": "0"}, "query.threshold"),
            ({"by": "category", "threshold": "1.5"}, "query.threshold"),
            ({"by": "category", "from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "query.to"),
        ],
    )
    async def test_bad_parameters_are_problems_naming_the_field(
        self, client: httpx.AsyncClient, params: dict[str, str], field: str
    ) -> None:
        response = await client.get("/v1/complaints/pareto", params=params)
        assert response.status_code in (400, 422), response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert field in response.text


class TestBreakdowns:
    async def test_metrics_by_category_carry_the_repeat_rate(self, client: httpx.AsyncClient) -> None:
        seeded = await seed(client)
        assert seeded["second"]["repeat_of"] == seeded["first"]["id"]
        response = await client.get("/v1/complaints/metrics", params={"group_by": "category"})
        assert response.status_code == 200, response.text
        body = response.json()
        groups = {g["category"]: g for g in body["groups"]}
        assert (groups["billing"]["received"], groups["billing"]["repeats"]) == (3, 1)
        assert groups["billing"]["repeat_rate"] == pytest.approx(1 / 3, abs=1e-4)
        assert groups["outage"]["repeat_rate"] == 0.0
        assert body["totals"]["repeat_rate"] == 0.25

    async def test_metrics_by_root_cause_and_department(self, client: httpx.AsyncClient) -> None:
        await seed(client)
        by_cause = (await client.get("/v1/complaints/metrics", params={"group_by": "root_cause"})).json()
        assert {g["root_cause"]: g["resolved"] for g in by_cause["groups"]} == {
            "billing-system": 1,
            "line-fault": 1,
            None: 0,
        }
        by_dept = (await client.get("/v1/complaints/metrics", params={"group_by": "department"})).json()
        assert [(g["department"], g["received"]) for g in by_dept["groups"]] == [("call-centre", 4)]


class TestAdjustmentsWorkedExamples:
    def test_a_late_complaint_shows_as_one_adjustment(self) -> None:
        closed = {"(total)": {"received": 3}, "billing": {"received": 3}}
        now = {"(total)": {"received": 4}, "billing": {"received": 4}}
        assert adjustments(closed, now) == [
            Adjustment("(total)", "received", 3, 4, 1),
            Adjustment("billing", "received", 3, 4, 1),
        ]

    def test_a_group_that_appeared_counts_from_zero(self) -> None:
        assert adjustments({}, {"outage": {"received": 1, "closed": 0}}) == [Adjustment("outage", "received", 0, 1, 1)]


class TestPeriodStarts:
    def test_month_week_and_day_starts_in_the_timezone(self) -> None:
        shanghai = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
        assert starts_period(shanghai, "month", "Asia/Shanghai")
        assert not starts_period(datetime(2026, 3, 1, tzinfo=UTC), "month", "Asia/Shanghai")
        assert starts_period(datetime(2026, 3, 2, tzinfo=UTC), "week", "UTC")  # a Monday
        assert not starts_period(datetime(2026, 3, 3, tzinfo=UTC), "week", "UTC")
        assert not starts_period(datetime(2026, 3, 3, 0, 0, 1, tzinfo=UTC), "day", "UTC")


class TestClosedPeriod:
    MARCH = {
        "from": "2026-03-01T00:00:00+08:00",
        "to": "2026-04-01T00:00:00+08:00",
        "group_by": "category",
        "tz": "Asia/Shanghai",
    }

    async def test_figures_freeze_at_the_first_read_and_later_changes_are_adjustments(
        self, client: httpx.AsyncClient
    ) -> None:
        await seed(client)
        first = await client.get("/v1/complaints/metrics/closed", params=self.MARCH)
        assert first.status_code == 200, first.text
        assert first.json()["adjustments"] == []
        assert first.json()["as_closed"]["totals"]["received"] == 4
        # a complaint filed late, dated in March
        await file(client, customer="C-9", category="billing", received_at="2026-03-20T10:00:00+08:00")
        second = (await client.get("/v1/complaints/metrics/closed", params=self.MARCH)).json()
        assert second["taken_at"] == first.json()["taken_at"]
        assert second["as_closed"]["totals"]["received"] == 4
        assert second["current"]["totals"]["received"] == 5
        assert second["adjustments"] == [
            {"group": "(total)", "measure": "received", "as_closed": 4, "current": 5, "delta": 1},
            {"group": "billing", "measure": "received", "as_closed": 3, "current": 4, "delta": 1},
        ]
        # another grouping of the same period is its own snapshot, taken now
        other = (await client.get("/v1/complaints/metrics/closed", params={**self.MARCH, "group_by": "none"})).json()
        assert other["as_closed"]["totals"]["received"] == 5

    async def test_an_open_period_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v1/complaints/metrics/closed", params={"from": "2026-03-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}
        )
        assert response.status_code == 422
        assert "query.to" in response.text

    async def test_a_period_that_is_not_whole_is_refused(self, client: httpx.AsyncClient) -> None:
        params = {**self.MARCH, "from": "2026-03-01T00:00:01+08:00"}
        response = await client.get("/v1/complaints/metrics/closed", params=params)
        assert response.status_code == 422
        assert "query.from" in response.text

    async def test_from_and_to_are_required(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/complaints/metrics/closed", params={"from": "2026-03-01T00:00:00Z"})
        assert response.status_code == 422
        assert "to" in response.text


class TestByNode:
    """A complaint may be attributed to a node of its process; breakdowns and the Pareto count by it."""

    @pytest.fixture(autouse=True)
    def repair_process(self, upstreams: Upstreams) -> None:
        upstreams.tracking.processes.add("fault-repair")
        upstreams.tracking.nodes["fault-repair"] = ["dispatch", "repair", "restore"]

    async def seed_nodes(self, client: httpx.AsyncClient) -> None:
        for i, node in enumerate(("repair", "repair", "repair", "dispatch")):
            await file(client, customer=f"N-{i}", process="fault-repair", node=node)
        await file(client, customer="N-9", process="fault-repair")  # not attributed to a node

    async def test_a_complaint_carries_its_node(self, client: httpx.AsyncClient) -> None:
        complaint = await file(client, process="fault-repair", node="restore")
        assert (complaint["process"], complaint["node"]) == ("fault-repair", "restore")
        listed = (await client.get("/v1/complaints", params={"node": "restore"})).json()["items"]
        assert [(c["id"], c["node"]) for c in listed] == [(complaint["id"], "restore")]

    async def test_pareto_by_node_puts_complaints_without_a_node_last(self, client: httpx.AsyncClient) -> None:
        await self.seed_nodes(client)
        body = (await client.get("/v1/complaints/pareto", params={"by": "node"})).json()
        assert [(r["key"], r["count"], r["cumulative_share"], r["vital"]) for r in body["rows"]] == [
            ("repair", 3, 0.6, True),
            ("dispatch", 1, 0.8, True),
            (None, 1, 1.0, False),
        ]

    async def test_metrics_by_node_and_filtered_by_node(self, client: httpx.AsyncClient) -> None:
        await self.seed_nodes(client)
        body = (await client.get("/v1/complaints/metrics", params={"group_by": "node"})).json()
        assert [(g["node"], g["received"]) for g in body["groups"]] == [(None, 1), ("dispatch", 1), ("repair", 3)]
        only = (await client.get("/v1/complaints/metrics", params={"group_by": "none", "node": "repair"})).json()
        assert only["totals"]["received"] == 3

    async def test_the_node_found_when_resolving_is_kept(self, client: httpx.AsyncClient) -> None:
        complaint = await file(client, process="fault-repair")
        early = await move(client, complaint["id"], "acknowledged", node="repair")
        assert early.status_code == 422, early.text
        assert "node" in early.text
        assert (await move(client, complaint["id"], "acknowledged")).status_code == 200
        unknown = await move(client, complaint["id"], "resolved", **RESOLVE, node="paint")
        assert unknown.status_code == 422, unknown.text
        resolved = await move(client, complaint["id"], "resolved", **RESOLVE, node="restore")
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["node"] == "restore"
        body = (await client.get("/v1/complaints/pareto", params={"by": "node"})).json()
        assert [(r["key"], r["count"]) for r in body["rows"]] == [("restore", 1)]

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"node": "repair"}, "node"),  # a node without its process
            ({"process": "fault-repair", "node": "paint"}, "node"),  # not a node of the process
            ({"process": "fault-repair", "node": "not a key!"}, "node"),
            ({"process": "no-such-process", "node": "repair"}, "process"),
        ],
    )
    async def test_a_node_that_is_not_of_the_process_names_the_field(
        self, client: httpx.AsyncClient, overrides: dict[str, str], field: str
    ) -> None:
        response = await client.post("/v1/complaints", json=complaint_body(**overrides))
        assert response.status_code == 422, response.text
        assert field in response.text
