"""POST /v1/deadlines/preview: the worked examples of DESIGN.md (calendar W) through the API."""

import re
from typing import Any

import httpx
import pytest
from pledge_common.durations import ANSWER_PATTERN
from support import active_commitment, ok, problem

W_TERMS = {
    "commitment_limit": "PT6H",
    "tolerance_limit": "PT10H",
    "calendar": "w",
    "allowed_pause_reasons": ["awaiting-customer"],
}
TUE = "2026-03-03"
WED = "2026-03-04"


def at(day: str, clock: str) -> str:
    return f"{day}T{clock}:00+08:00"


async def preview(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    body.setdefault("commitment", W_TERMS)
    return await ok(await client.post("/v1/deadlines/preview", json=body))  # type: ignore[no-any-return]


class TestWorkedExamples:
    @pytest.mark.parametrize(
        ("start", "completed", "counted", "state"),
        [
            (at(TUE, "10:00"), at(TUE, "15:00"), "PT4H", "completed_normal"),  # 1
            (at(TUE, "10:00"), at(TUE, "17:30"), "PT6H30M", "completed_acceptable"),  # 2
            (at(TUE, "10:00"), at(WED, "11:30"), "PT9H30M", "completed_acceptable"),  # 3
            (at(TUE, "10:00"), at(WED, "13:30"), "PT10H30M", "completed_warning"),  # 4
            (at(TUE, "16:00"), at(TUE, "20:00"), "PT2H", "completed_normal"),  # 5
            (at("2026-04-30", "17:00"), at("2026-05-04", "12:00"), "PT4H", "completed_normal"),  # 9
            (at("2026-05-08", "16:00"), at("2026-05-11", "10:00"), "PT11H", "completed_warning"),  # 10
        ],
    )
    async def test_completed_runs(
        self, client: httpx.AsyncClient, org: dict[str, Any], start: str, completed: str, counted: str, state: str
    ) -> None:
        body = await preview(client, start=start, completed_at=completed)
        assert (body["completed"]["counted"], body["completed"]["state"]) == (counted, state)

    async def test_example_5_commitment_due_wednesday_14_00(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        body = await preview(client, start=at(TUE, "16:00"))
        assert body["commitment_due_at"] == "2026-03-04T06:00:00Z"  # Wed 14:00 +08:00

    async def test_example_6_deadline_is_the_last_instant_not_exceeding(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        body = await preview(client, start=at(TUE, "12:00"), commitment={**W_TERMS, "commitment_limit": "PT5H"})
        assert body["commitment_reached_at"] == "2026-03-03T10:00:00Z"  # Tue 18:00
        assert body["commitment_due_at"] == "2026-03-04T01:00:00Z"  # Wed 09:00

    @pytest.mark.parametrize(
        ("reason", "counted", "state"),
        [("awaiting-customer", "PT3H", "completed_normal"), ("internal-delay", "PT10H", "completed_acceptable")],
    )
    async def test_examples_7_and_8_only_allowed_pauses_stop_the_clock(
        self, client: httpx.AsyncClient, org: dict[str, Any], reason: str, counted: str, state: str
    ) -> None:
        pause = {"start": at(TUE, "11:00"), "end": at(WED, "10:00"), "reason": reason}
        body = await preview(client, start=at(TUE, "10:00"), completed_at=at(WED, "12:00"), pauses=[pause])
        assert (body["completed"]["counted"], body["completed"]["state"]) == (counted, state)
        assert len(body["pauses_counted" if reason == "awaiting-customer" else "pauses_ignored"]) == 1

    @pytest.mark.parametrize(
        ("as_of", "counted", "state"),
        [(at(TUE, "17:00"), "PT6H", "in_progress_normal"), (at(TUE, "17:01"), "PT6H1M", "in_progress_acceptable")],
    )
    async def test_example_11_in_progress(
        self, client: httpx.AsyncClient, org: dict[str, Any], as_of: str, counted: str, state: str
    ) -> None:
        body = await preview(client, start=at(TUE, "10:00"), at=as_of)
        assert (body["as_of"]["counted"], body["as_of"]["state"]) == (counted, state)

    async def test_example_12_three_business_days(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        terms = {**W_TERMS, "limit_unit": "business_days", "commitment_limit": "P3D", "tolerance_limit": "P5D"}
        body = await preview(client, start=at(WED, "15:00"), commitment=terms)
        assert body["commitment_counted_limit"] == "PT27H"  # Wed 3 h + Thu 8 h + Fri 8 h + Mon 8 h
        assert body["commitment_reached_at"] == "2026-03-09T10:00:00Z"  # Mon 18:00 +08:00: the deadline shown
        # by the last-instant rule the clock stays at the limit until work resumes Tue 09:00
        assert body["commitment_due_at"] == "2026-03-10T01:00:00Z"


class TestPreviewOfAStoredCommitment:
    async def test_uses_the_version_terms(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        version = await active_commitment(client)
        body = await ok(
            await client.post("/v1/deadlines/preview", json={"start": at(TUE, "10:00"), "commitment_id": version["id"]})
        )
        assert body["commitment_due_at"] == "2026-03-03T09:00:00Z"  # Tue 17:00
        # 7 h on Tuesday + 3 h on Wednesday reach 10 h at Wed 12:00; still within it until work resumes at 13:00
        assert body["tolerance_due_at"] == "2026-03-04T05:00:00Z"
        assert body["prewarning_at"] == "2026-03-03T07:48:00Z"  # 80 % of 6 h = 4 h 48 min: Tue 15:48

    async def test_unknown_commitment_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/deadlines/preview",
            json={"start": at(TUE, "10:00"), "commitment_id": "00000000-0000-0000-0000-000000000000"},
        )
        problem(response, 404)


class TestPreviewBadInput:
    async def test_neither_commitment_nor_terms_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.post("/v1/deadlines/preview", json={"start": at(TUE, "10:00")}), 422, "commitment")

    async def test_unknown_calendar_is_422(self, client: httpx.AsyncClient) -> None:
        body = {"start": at(TUE, "10:00"), "commitment": {**W_TERMS, "calendar": "ghost"}}
        problem(await client.post("/v1/deadlines/preview", json=body), 422, "commitment.calendar")

    async def test_tolerance_below_commitment_is_422(self, client: httpx.AsyncClient) -> None:
        body = {"start": at(TUE, "10:00"), "commitment": {**W_TERMS, "tolerance_limit": "PT1H"}}
        problem(await client.post("/v1/deadlines/preview", json=body), 422, "commitment.tolerance_limit")

    async def test_start_without_offset_is_422(self, client: httpx.AsyncClient) -> None:
        body = {"start": "2026-03-03T10:00:00", "commitment": W_TERMS}
        problem(await client.post("/v1/deadlines/preview", json=body), 422, "start")

    async def test_24x7_counts_every_hour(self, client: httpx.AsyncClient) -> None:
        terms = {"commitment_limit": "PT4H", "tolerance_limit": "PT8H"}
        body = await ok(
            await client.post("/v1/deadlines/preview", json={"start": "2026-03-07T22:00:00Z", "commitment": terms})
        )
        assert body["commitment_due_at"] == "2026-03-08T02:00:00Z"


class TestValuesInTheAnswer:
    async def test_durations_follow_rfc_3339_and_instants_are_utc_with_z(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        terms = {**W_TERMS, "commitment_limit": "PT2H50S", "tolerance_limit": "PT26H"}  # lenient input
        pauses = [{"start": at(TUE, "10:00"), "end": at(TUE, "10:30"), "reason": "awaiting-customer"}]
        body = await preview(
            client, start=at(TUE, "09:00"), commitment=terms, pauses=pauses, at=at(WED, "11:00"),
            completed_at=at(WED, "12:00"),
        )  # fmt: skip
        durations = [
            body["commitment_counted_limit"],
            body["tolerance_counted_limit"],
            body["as_of"]["counted"],
            body["completed"]["counted"],
        ]
        assert [d for d in durations if not re.fullmatch(ANSWER_PATTERN, d)] == []
        assert body["commitment_counted_limit"] == "PT2H0M50S"
        instants = [body["start"], body["commitment_due_at"], body["pauses_counted"][0]["start"], body["as_of"]["at"]]
        assert [i for i in instants if not i.endswith("Z")] == []
