"""Corrective actions: causes, workflow, overdue list, effectiveness from evaluation-svc (at its edge)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from feedback_svc.actions.rules import effectiveness_windows
from upstreams import Upstreams

PROBLEM = "application/problem+json"


@pytest.fixture
def repair(upstreams: Upstreams) -> str:
    upstreams.tracking.processes.add("fault-repair")
    return "fault-repair"


def action_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "second dispatcher at peak hours",
        "description": "dispatch is the slowest node; add a dispatcher 08:00-10:00",
        "owner_department": "ops",
        "due_date": "2026-04-30",
        "links": [{"kind": "recommendation", "ref": "rec-fault-repair-dispatch"}],
    }
    body.update(overrides)
    return body


async def create(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/v1/corrective-actions", json=action_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def move(client: httpx.AsyncClient, action_id: str, to: str, **extra: Any) -> httpx.Response:
    return await client.post(f"/v1/corrective-actions/{action_id}/transitions", json={"to": to, **extra})


class TestCreate:
    async def test_an_action_from_a_complaint_and_a_survey_gap_keeps_its_links(
        self, client: httpx.AsyncClient, repair: str
    ) -> None:
        complaint = await client.post(
            "/v1/complaints",
            json={
                "channel": "phone",
                "customer": "C-1",
                "category": "slow-repair",
                "severity": "general",
                "description": "waited two days",
                "received_by": {"department": "call-centre"},
            },
        )
        links = [
            {"kind": "complaint", "ref": complaint.json()["id"]},
            {"kind": "survey_gap", "ref": "servqual-22:responsiveness"},
        ]
        action = await create(client, links=links, process=repair, node="dispatch")
        assert action["status"] == "open"
        assert action["effectiveness"] is None
        assert sorted(link["kind"] for link in action["links"]) == ["complaint", "survey_gap"]
        assert action["history"][0]["to_status"] == "open"

    @pytest.mark.parametrize(
        ("link", "message"),
        [
            ({"kind": "complaint", "ref": "00000000-0000-0000-0000-000000000000"}, "no complaint"),
            ({"kind": "complaint", "ref": "not-a-uuid"}, "UUID"),
            ({"kind": "survey_gap", "ref": "servqual-22:speed"}, "neither"),
            ({"kind": "survey_gap", "ref": "nope:tangibles"}, "no survey instrument"),
        ],
    )
    async def test_a_link_to_something_unknown_is_422_naming_the_link(
        self, client: httpx.AsyncClient, link: dict[str, str], message: str
    ) -> None:
        response = await client.post("/v1/corrective-actions", json=action_body(links=[link]))
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "links.0.ref"
        assert message in response.json()["errors"][0]["message"]

    async def test_an_action_needs_a_cause(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/corrective-actions", json=action_body(links=[]))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "links"

    async def test_unknown_process_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/corrective-actions", json=action_body(process="nope"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "process"


class TestWorkflow:
    async def test_open_in_progress_done_verified(self, client: httpx.AsyncClient) -> None:
        aid = (await create(client))["id"]
        assert (await move(client, aid, "in_progress", by="zhou")).status_code == 200
        assert (await move(client, aid, "done", note="dispatcher hired")).status_code == 200
        verified = await move(client, aid, "verified")
        assert verified.status_code == 200, verified.text
        body = verified.json()
        assert body["status"] == "verified"
        assert [h["to_status"] for h in body["history"]] == ["open", "in_progress", "done", "verified"]
        assert body["history"][1]["by"] == "zhou"
        assert body["allowed_transitions"] == []

    async def test_verifying_an_action_that_is_not_done_is_409(self, client: httpx.AsyncClient) -> None:
        aid = (await create(client))["id"]
        response = await move(client, aid, "verified")
        assert response.status_code == 409
        assert response.json()["allowed"] == ["done", "in_progress"]

    async def test_overdue_lists_only_open_actions_past_their_due_date(self, client: httpx.AsyncClient) -> None:
        late = await create(client, title="late", due_date="2020-01-31")
        done_late = await create(client, title="done late", due_date="2020-01-31")
        await move(client, done_late["id"], "done")
        await create(client, title="future", due_date="2999-01-01")
        overdue = (await client.get("/v1/corrective-actions", params={"overdue": "true"})).json()["items"]
        assert [(a["title"], a["overdue"]) for a in overdue] == [("late", True)]
        assert late["overdue"] is True


class TestEffectiveness:
    async def test_achievement_n_weeks_before_and_after_completion_is_shown_on_the_action(
        self, client: httpx.AsyncClient, repair: str, upstreams: Upstreams
    ) -> None:
        aid = (await create(client, process=repair, node="dispatch", effectiveness_weeks=2))["id"]
        await move(client, aid, "in_progress")
        done_at = datetime.now(UTC)

        def before(params: dict[str, str]) -> bool:
            return params["node"] == "dispatch" and datetime.fromisoformat(params["to"]) <= done_at

        upstreams.evaluation.achievements = [
            (before, upstreams.evaluation.achievement(100, 60, 30, 10)),
            (lambda params: params["node"] == "dispatch", upstreams.evaluation.achievement(8, 7, 1, 0)),
        ]
        done = await move(client, aid, "done", at=done_at.isoformat())
        assert done.status_code == 200, done.text
        effect = done.json()["effectiveness"]
        assert effect["available"] is True
        window_start = datetime.fromisoformat(effect["before"]["from"])
        assert datetime.fromisoformat(effect["before"]["to"]) - window_start == timedelta(weeks=2)
        assert (effect["before"]["runs"], effect["before"]["achievement_rate"]) == (100, 0.6)
        assert (effect["after"]["runs"], effect["after"]["achievement_rate"]) == (8, 0.875)
        assert effect["after_complete"] is False  # the two weeks after completion have not passed yet
        assert effect["change"] == 0.275

    def test_windows_are_n_weeks_either_side_of_completion_cut_at_now(self) -> None:
        done = datetime(2026, 1, 5, tzinfo=UTC)
        later = effectiveness_windows(done, 2, now=datetime(2026, 3, 1, tzinfo=UTC))
        assert (later.before_start, later.after_end, later.after_complete) == (
            datetime(2025, 12, 22, tzinfo=UTC),
            datetime(2026, 1, 19, tzinfo=UTC),
            True,
        )
        soon = effectiveness_windows(done, 2, now=datetime(2026, 1, 8, tzinfo=UTC))
        assert (soon.after_end, soon.after_complete) == (datetime(2026, 1, 8, tzinfo=UTC), False)

    async def test_evaluation_down_leaves_the_action_readable_with_effectiveness_unavailable(
        self, client: httpx.AsyncClient, repair: str, upstreams: Upstreams
    ) -> None:
        aid = (await create(client, process=repair))["id"]
        await move(client, aid, "done")
        upstreams.evaluation.down = True
        response = await client.get(f"/v1/corrective-actions/{aid}")
        assert response.status_code == 200
        assert response.json()["effectiveness"]["available"] is False
        assert "evaluation-svc" in response.json()["effectiveness"]["detail"]
