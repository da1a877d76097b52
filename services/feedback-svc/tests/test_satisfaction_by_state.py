"""Satisfaction by commitment state: feedback against evaluation-svc's judgments (answered at its edge)."""

import httpx
import pytest
from feedback_svc.feedback.scores import Counts, first_drop
from pledge_common.durations import format_seconds, parse_duration
from upstreams import Upstreams


@pytest.fixture
async def judged_feedback(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    tickets = {
        # ticket: (csat, nps, [(node, state, counted)])
        "A": (5, 10, [("dispatch", "completed_normal", "PT30M"), ("repair", "completed_normal", "PT2H")]),
        "B": (4, 8, [("dispatch", "completed_normal", "PT40M"), ("repair", "completed_acceptable", "PT5H")]),
        "C": (2, 3, [("dispatch", "completed_acceptable", "PT1H30M"), ("repair", "completed_warning", "PT9H")]),
        "D": (3, None, [("dispatch", "in_progress_normal", "PT10M")]),
        "E": (3, None, []),
    }
    for ticket_id, (csat, nps, runs) in tickets.items():
        upstreams.tracking.add_ticket(ticket_id, "fault-repair", nodes=[("dispatch", "ops"), ("repair", "field")])
        for node, state, counted in runs:
            upstreams.evaluation.judge(ticket_id, node, state, counted)
        body = {"ticket_id": ticket_id, "csat": csat, "channel": "sms"} | ({"nps": nps} if nps is not None else {})
        assert (await client.post("/v1/feedback", json=body)).status_code == 201


async def by_state(client: httpx.AsyncClient, **params: object) -> dict[str, object]:
    response = await client.get(
        "/v1/feedback/by-state",
        params={"process": "fault-repair", "duration_bucket": "PT2H", "min_responses": 1, **params},
    )
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


async def test_each_ticket_counts_under_the_worst_state_its_nodes_completed_in(
    client: httpx.AsyncClient, judged_feedback: None
) -> None:
    body = await by_state(client)
    assert (body["tickets"], body["tickets_without_judgment"]) == (3, 2)
    rows = [(g["state"], g["responses"], g["csat"], g["nps"]) for g in body["by_ticket_state"]]  # type: ignore[attr-defined]
    assert rows == [
        ("completed_normal", 1, 1.0, 100.0),
        ("completed_acceptable", 1, 1.0, 0.0),
        ("completed_warning", 1, 0.0, -100.0),
    ]


async def test_per_node_state_uses_each_nodes_completed_run(client: httpx.AsyncClient, judged_feedback: None) -> None:
    body = await by_state(client)
    rows = [(g["node"], g["state"], g["responses"]) for g in body["by_node_state"]]  # type: ignore[attr-defined]
    assert rows == [
        ("dispatch", "completed_acceptable", 1),
        ("dispatch", "completed_normal", 2),
        ("repair", "completed_acceptable", 1),
        ("repair", "completed_normal", 1),
        ("repair", "completed_warning", 1),
    ]


async def test_satisfaction_against_counted_duration_shows_where_it_drops(
    client: httpx.AsyncClient, judged_feedback: None
) -> None:
    body = await by_state(client, csat_threshold=0.8)
    repair = [
        (b["counted_from"], b["counted_to"], b["csat"]) for b in body["by_counted_duration"] if b["node"] == "repair"
    ]  # type: ignore[attr-defined]
    assert repair == [("PT2H", "PT4H", 1.0), ("PT4H", "PT6H", 1.0), ("PT8H", "PT10H", 0.0)]
    drops = {d["node"]: d["counted_from"] for d in body["satisfaction_drop"]}  # type: ignore[attr-defined]
    assert drops == {"dispatch": "PT0S", "repair": "PT8H"}


async def test_final_judgments_are_kept_and_only_unfinished_tickets_are_asked_again(
    client: httpx.AsyncClient, judged_feedback: None, upstreams: Upstreams
) -> None:
    await by_state(client)
    asked_first = {r.url.params["ticket_id"] for r in upstreams.evaluation.requests}
    upstreams.evaluation.requests.clear()
    await by_state(client)
    asked_again = {r.url.params["ticket_id"] for r in upstreams.evaluation.requests}
    assert asked_first == {"A", "B", "C", "D", "E"}
    assert asked_again == {"D", "E"}


async def test_missing_process_or_bad_bucket_is_422(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.tracking.processes.add("fault-repair")
    missing = await client.get("/v1/feedback/by-state")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "query.process"
    bad = await client.get("/v1/feedback/by-state", params={"process": "fault-repair", "duration_bucket": "2h"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.duration_bucket"
    unknown = await client.get("/v1/feedback/by-state", params={"process": "nope"})
    assert unknown.status_code == 422


async def test_evaluation_down_is_503(client: httpx.AsyncClient, judged_feedback: None, upstreams: Upstreams) -> None:
    upstreams.evaluation.down = True
    response = await client.get("/v1/feedback/by-state", params={"process": "fault-repair"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_a_drop_needs_enough_answers_in_the_bucket() -> None:
    few = Counts(responses=2, csat_responses=2, satisfied=0, nps_responses=0, promoters=0, detractors=0)
    many = Counts(responses=9, csat_responses=9, satisfied=3, nps_responses=0, promoters=0, detractors=0)
    good = Counts(responses=9, csat_responses=9, satisfied=9, nps_responses=0, promoters=0, detractors=0)
    assert first_drop([(0.0, good), (3600.0, few), (7200.0, many)], 0.8, min_responses=5) == 7200.0
    assert first_drop([(0.0, good)], 0.8, min_responses=5) is None


def test_bucket_durations_are_written_as_rfc_3339_reads_them_and_read_back() -> None:
    cases = {0: "PT0S", 5400: "PT1H30M", 3605: "PT1H0M5S", 7200: "PT2H", 59: "PT59S", 90061: "PT25H1M1S"}
    for seconds, text in cases.items():
        assert format_seconds(seconds) == text
        assert parse_duration(text).total_seconds() == seconds
