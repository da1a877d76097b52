"""Practices: created directly or from a verified corrective action, searched (Chinese too), suggested."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from feedback_svc.practices.search import like_pattern, normalise, terms
from test_complaints import RESOLVE
from test_complaints import file as file_complaint
from test_complaints import move as move_complaint
from test_corrective_actions import create as create_action
from test_corrective_actions import move as move_action
from upstreams import Upstreams

PROBLEM = "application/problem+json"


def practice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "抢修一次性复电 故障定位后带齐备件出车",
        "body": "Dispatch checks the spare-parts list against the fault code before the crew leaves.",
        "tags": ["抢修", "first-time-fix"],
        "processes": ["fault-repair"],
        "nodes": ["dispatch"],
        "root_causes": ["missing-parts"],
    }
    body.update(overrides)
    return body


async def add(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/practices", json=practice_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def search(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get("/v1/practices", params=params)
    assert response.status_code == 200, response.text
    return [p["title"] for p in response.json()["items"]]


class TestSearchText:
    def test_full_width_and_case_fold_to_one_form(self) -> None:
        assert normalise("  \uff21\uff22\uff23\uff11\uff12\uff13\t抢修  Repair ") == "abc123 抢修 repair"

    def test_terms_are_distinct_and_ordered(self) -> None:
        assert terms("复电  抢修 复电") == ["复电", "抢修"]

    def test_like_wildcards_are_escaped(self) -> None:
        assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


class TestCreateAndSearch:
    async def test_direct_practice_is_found_by_a_chinese_substring(self, client: httpx.AsyncClient) -> None:
        created = await add(client)
        assert created["nodes"] == ["dispatch"]
        assert created["figures"] is None
        await add(client, title="话务高峰增派坐席", body="more agents at peak", tags=[], root_causes=["staffing"])
        assert await search(client, q="复电") == [created["title"]]
        assert await search(client, q="备件 \uff24\uff29\uff33\uff30\uff21\uff34\uff23\uff28") == [
            created["title"]
        ]  # every word, full-width too
        assert await search(client, q="复电 staffing") == []
        assert len(await search(client, q="%")) == 0  # a wildcard is a character, not "anything"

    async def test_filters_by_node_root_cause_and_tag(self, client: httpx.AsyncClient) -> None:
        first = await add(client)
        await add(client, title="other", nodes=["survey"], root_causes=["staffing"], tags=["x"])
        assert await search(client, node="dispatch") == [first["title"]]
        assert await search(client, root_cause="missing-parts") == [first["title"]]
        assert await search(client, tag="抢修") == [first["title"]]

    async def test_the_list_is_paged(self, client: httpx.AsyncClient) -> None:
        for i in range(3):
            await add(client, title=f"p{i}")
        first = await client.get("/v1/practices", params={"limit": 2})
        assert len(first.json()["items"]) == 2
        second = await client.get("/v1/practices", params={"limit": 2, "cursor": first.json()["next_cursor"]})
        assert [p["title"] for p in second.json()["items"]] == ["p0"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"title": None}, "body.title"),
            ({"nodes": ["bad key"]}, "nodes.0"),
            ({"tags": ["x"] * 21}, "tags"),
        ],
    )
    async def test_bad_bodies_name_the_field(self, client: httpx.AsyncClient, body: dict[str, Any], field: str) -> None:
        response = await client.post("/v1/practices", json=practice_body(**body))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert field in response.text

    async def test_too_many_words_are_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/practices", params={"q": " ".join(f"w{i}" for i in range(9))})
        assert response.status_code == 422
        assert "query.q" in response.text


class TestFromCorrectiveAction:
    async def test_a_verified_action_becomes_a_practice_with_its_figures(
        self, client: httpx.AsyncClient, upstreams: Upstreams
    ) -> None:
        upstreams.tracking.processes.add("fault-repair")
        aid = (await create_action(client, process="fault-repair", node="dispatch", effectiveness_weeks=2))["id"]
        await move_action(client, aid, "in_progress")
        not_yet = await client.post("/v1/practices", json={"from_action": aid})
        assert not_yet.status_code == 422
        assert "body.from_action" in not_yet.text
        upstreams.evaluation.achievements = [
            (lambda params: True, upstreams.evaluation.achievement(100, 60, 30, 10)),
        ]
        await move_action(client, aid, "done", at=datetime.now(UTC).isoformat())
        assert (await move_action(client, aid, "verified")).status_code == 200
        response = await client.post("/v1/practices", json={"from_action": aid, "root_causes": ["dispatch-delay"]})
        assert response.status_code == 201, response.text
        practice = response.json()
        assert practice["title"] == "second dispatcher at peak hours"
        assert (practice["processes"], practice["nodes"]) == (["fault-repair"], ["dispatch"])
        assert practice["from_action"] == aid
        assert practice["figures"]["before"]["achievement_rate"] == 0.6
        again = await client.post("/v1/practices", json={"from_action": aid})
        assert again.status_code == 409


class TestSuggestions:
    async def test_a_complaint_with_the_same_root_cause_suggests_the_practice(self, client: httpx.AsyncClient) -> None:
        practice = await add(client, root_causes=["billing-system"])
        await add(client, title="unrelated", root_causes=["staffing"])
        complaint = await file_complaint(client)
        assert complaint["suggested_practices"] == []
        await move_complaint(client, complaint["id"], "acknowledged")
        await move_complaint(client, complaint["id"], "resolved", **RESOLVE)
        body = (await client.get(f"/v1/complaints/{complaint['id']}")).json()
        assert [p["id"] for p in body["suggested_practices"]] == [practice["id"]]
