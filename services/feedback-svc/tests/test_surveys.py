"""SERVQUAL instruments, responses and gap results on a real Postgres."""

from typing import Any

import httpx
import pytest
from upstreams import Upstreams

PROBLEM = "application/problem+json"
MINI = {
    "key": "mini",
    "name": "Mini",
    "dimensions": ["reliability", "empathy"],
    "items": [
        {"key": "R1", "dimension": "reliability", "text": "does it by the promised time"},
        {"key": "R2", "dimension": "reliability", "text": "right the first time"},
        {"key": "E1", "dimension": "empathy", "text": "individual attention"},
    ],
}


def scored(item: str, expectation: int, perception: int) -> dict[str, Any]:
    return {"item": item, "expectation": expectation, "perception": perception}


@pytest.fixture
async def mini(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/surveys", json=MINI)
    assert response.status_code == 201, response.text
    return "mini"


class TestInstruments:
    async def test_the_standard_22_item_instrument_is_built_in_with_five_dimensions(
        self, client: httpx.AsyncClient
    ) -> None:
        listed = (await client.get("/v1/surveys")).json()["items"]
        assert listed[0]["key"] == "servqual-22"
        assert listed[0]["builtin"] is True
        instrument = (await client.get("/v1/surveys/servqual-22")).json()
        assert instrument["dimensions"] == ["tangibles", "reliability", "responsiveness", "assurance", "empathy"]
        per_dimension = [sum(1 for i in instrument["items"] if i["dimension"] == d) for d in instrument["dimensions"]]
        assert per_dimension == [4, 5, 4, 4, 5]
        assert instrument["item_count"] == 22

    async def test_instruments_are_listed_a_page_at_a_time_built_in_first(
        self, client: httpx.AsyncClient, mini: str
    ) -> None:
        assert (await client.post("/v1/surveys", json={**MINI, "key": "aaa"})).status_code == 201
        first = await client.get("/v1/surveys", params={"limit": 2})
        page = first.json()
        assert [i["key"] for i in page["items"]] == ["servqual-22", "aaa"]
        assert first.headers["Link"].endswith('rel="next"')
        rest = (await client.get("/v1/surveys", params={"limit": 2, "cursor": page["next_cursor"]})).json()
        assert ([i["key"] for i in rest["items"]], rest["next_cursor"]) == ([mini], None)
        forged = await client.get("/v1/surveys", params={"cursor": "WyJ4IiwibWluaSJd"})  # ["x","mini"]
        assert (forged.status_code, forged.json()["errors"][0]["field"]) == (422, "query.cursor")

    async def test_custom_instrument_maps_items_to_dimensions(self, client: httpx.AsyncClient, mini: str) -> None:
        instrument = (await client.get(f"/v1/surveys/{mini}")).json()
        assert [(i["key"], i["dimension"], i["position"]) for i in instrument["items"]] == [
            ("R1", "reliability", 1),
            ("R2", "reliability", 2),
            ("E1", "empathy", 3),
        ]

    async def test_item_on_an_undeclared_dimension_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        body = {**MINI, "items": [*MINI["items"], {"key": "X1", "dimension": "speed", "text": "fast"}]}  # type: ignore[list-item]
        response = await client.post("/v1/surveys", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "items.3.dimension"

    async def test_duplicate_instrument_key_is_409(self, client: httpx.AsyncClient, mini: str) -> None:
        response = await client.post("/v1/surveys", json=MINI)
        assert response.status_code == 409


class TestResponses:
    async def test_every_item_must_be_answered_or_explicitly_skipped(
        self, client: httpx.AsyncClient, mini: str
    ) -> None:
        response = await client.post(
            f"/v1/surveys/{mini}/responses", json={"answers": [scored("R1", 5, 3), scored("E1", 4, 4)]}
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert "R2" in response.json()["errors"][0]["message"]
        ok = await client.post(
            f"/v1/surveys/{mini}/responses",
            json={"answers": [scored("R1", 5, 3), {"item": "R2", "skipped": True}, scored("E1", 4, 4)]},
        )
        assert ok.status_code == 201, ok.text
        assert (ok.json()["answered"], ok.json()["skipped"]) == (2, 1)

    @pytest.mark.parametrize(
        ("answer", "field"),
        [
            ({"item": "R1", "expectation": 8, "perception": 3}, "answers.0.expectation"),
            ({"item": "R1", "expectation": 5, "perception": 0}, "answers.0.perception"),
            ({"item": "R1", "expectation": 5}, "answers.0"),
            ({"item": "R1", "expectation": 5, "perception": 5, "skipped": True}, "answers.0"),
        ],
    )
    async def test_scores_out_of_1_to_7_or_half_answered_are_422(
        self, client: httpx.AsyncClient, mini: str, answer: dict[str, Any], field: str
    ) -> None:
        response = await client.post(
            f"/v1/surveys/{mini}/responses",
            json={"answers": [answer, {"item": "R2", "skipped": True}, {"item": "E1", "skipped": True}]},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field

    async def test_importance_must_add_up_to_100_over_known_dimensions(
        self, client: httpx.AsyncClient, mini: str
    ) -> None:
        answers = [scored("R1", 5, 3), scored("R2", 5, 3), scored("E1", 5, 3)]
        for importance in ({"reliability": 70, "empathy": 20}, {"reliability": 90, "speed": 10}):
            response = await client.post(
                f"/v1/surveys/{mini}/responses", json={"answers": answers, "importance": importance}
            )
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "importance"

    async def test_unknown_instrument_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/surveys/nope/responses", json={"answers": [scored("R1", 5, 3)]})
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM

    async def test_unknown_process_is_422(self, client: httpx.AsyncClient, mini: str, upstreams: Upstreams) -> None:
        answers = [scored("R1", 5, 3), scored("R2", 5, 3), scored("E1", 5, 3)]
        response = await client.post(f"/v1/surveys/{mini}/responses", json={"answers": answers, "process": "x"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "process"


class TestResults:
    async def _respond(self, client: httpx.AsyncClient, **body: Any) -> None:
        response = await client.post("/v1/surveys/mini/responses", json=body)
        assert response.status_code == 201, response.text

    async def test_gaps_per_item_and_dimension_and_the_weighted_and_unweighted_score(
        self, client: httpx.AsyncClient, mini: str
    ) -> None:
        # A: reliability gaps -2, 0 → -1; empathy +1; unweighted 0; weighted (-1·80 + 1·20)/100 = -0.6
        await self._respond(
            client,
            segment="vip",
            answers=[scored("R1", 5, 3), scored("R2", 6, 6), scored("E1", 4, 5)],
            importance={"reliability": 80, "empathy": 20},
        )
        # B: reliability -3 (R2 skipped); empathy 0; unweighted -1.5; no importance
        await self._respond(
            client,
            segment="residential",
            answers=[scored("R1", 7, 4), {"item": "R2", "skipped": True}, scored("E1", 5, 5)],
        )
        body = (await client.get(f"/v1/surveys/{mini}/results")).json()
        (group,) = body["groups"]
        assert (group["responses"], group["servqual"]) == (2, -0.75)
        assert (group["weighted_responses"], group["servqual_weighted"]) == (1, -0.6)
        reliability, empathy = group["dimensions"]  # in the instrument's order
        assert (reliability["gap"], reliability["expectation"], reliability["perception"]) == (-2.0, 6.25, 4.25)
        assert reliability["importance"] == 80.0
        assert (empathy["gap"], empathy["importance"]) == (0.5, 20.0)
        items = {i["item"]: i for i in group["items"]}
        assert [i["item"] for i in group["items"]] == ["R1", "R2", "E1"]
        assert (items["R1"]["answered"], items["R1"]["gap"], items["R1"]["expectation"]) == (2, -2.5, 6.0)
        assert (items["R2"]["answered"], items["R2"]["skipped"], items["R2"]["gap"]) == (1, 1, 0.0)

        by_segment = (await client.get(f"/v1/surveys/{mini}/results", params={"group_by": "segment"})).json()
        assert [(g["segment"], g["responses"], g["servqual"]) for g in by_segment["groups"]] == [
            ("residential", 1, -1.5),
            ("vip", 1, 0.0),
        ]

    async def test_results_by_period_count_responses_per_bucket(self, client: httpx.AsyncClient, mini: str) -> None:
        answers = [scored("R1", 5, 4), scored("R2", 5, 4), scored("E1", 5, 4)]
        for at in ("2026-03-03T10:00:00+00:00", "2026-03-20T10:00:00+00:00", "2026-04-02T10:00:00+00:00"):
            await self._respond(client, answers=answers, responded_at=at)
        body = (
            await client.get(f"/v1/surveys/{mini}/results", params={"group_by": "period", "bucket": "month"})
        ).json()
        assert [(g["period"][:7], g["responses"], g["servqual"]) for g in body["groups"]] == [
            ("2026-03", 2, -1.0),
            ("2026-04", 1, -1.0),
        ]
