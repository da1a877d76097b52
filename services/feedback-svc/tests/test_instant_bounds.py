"""Instants in year 1 (or past 2199) are refused as a 422 naming the field, in bodies and query parameters."""

import httpx


async def test_feedback_given_in_year_1_is_422_naming_given_at(client: httpx.AsyncClient) -> None:
    body = {"channel": "sms", "csat": 4, "process": "fault-repair", "given_at": "0001-01-01T00:00:00Z"}
    response = await client.post("/v1/feedback", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "field": "given_at",
            "message": "is outside the instants accepted (1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z, excluded)",
        }
    ]


async def test_survey_results_from_year_1_are_422_naming_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/surveys/servqual-22/results", params={"from": "0001-01-01T00:00:00+00:00"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "query.from"
    ok = await client.get("/v1/surveys/servqual-22/results", params={"from": "2026-01-01T00:00:00+00:00"})
    assert ok.status_code == 200, ok.text
