"""The client at its edge to the outside: retries, idempotency keys, problems and pages over MockTransport."""

import json
from datetime import UTC, datetime

import httpx
import pydantic
import pytest
from pledge_client import AsyncPledgeClient, PledgeClient, PledgeProblem, RetryPolicy
from pledge_client._calls import retry_after_seconds

EVENT = {"event_id": "e1", "type": "ticket.opened", "occurred_at": "2026-03-03T09:00:00+08:00", "source": "crm",
         "ticket": {"external_id": "WO-1", "process": "fault-repair"}}  # fmt: skip
BULK_OK = {"accepted": 1, "duplicates": 0, "rejected": 0, "items": [], "items_truncated": False}
TICKET = {"id": "6f1c", "source": "crm", "external_id": "WO-1", "process": "fault-repair", "segment": None,
          "customer": "C-1", "status": "open", "opened_at": "2026-03-03T01:00:00Z", "closed_at": None,
          "cancelled_at": None, "attributes": {}}  # fmt: skip


class Recorder:
    """A scripted server: answers in order, and keeps every request it was sent."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


def problem(status: int, **body: object) -> httpx.Response:
    return httpx.Response(status, json={"status": status, **body}, headers={"content-type": "application/problem+json"})


def client(server: Recorder, slept: list[float]) -> PledgeClient:
    return PledgeClient("http://pledge.test/", "pledge_k", transport=httpx.MockTransport(server), sleep=slept.append)


class TestRetries:
    def test_a_503_is_sent_again_after_its_retry_after_with_the_same_idempotency_key(self) -> None:
        server = Recorder(problem(503, title="Service Unavailable"), httpx.Response(200, json=BULK_OK))
        server.answers[0].headers["Retry-After"] = "3"
        slept: list[float] = []
        result = client(server, slept).push_events([EVENT])
        assert result.accepted == 1
        assert slept == [3.0]
        keys = [r.headers["Idempotency-Key"] for r in server.requests]
        assert len(keys) == 2
        assert keys[0] == keys[1]
        assert len(keys[0]) == 36
        assert server.requests[0].content == server.requests[1].content

    def test_a_429_with_an_http_date_waits_until_that_date(self) -> None:
        now = datetime(2026, 3, 3, 12, 0, 0, tzinfo=UTC)
        assert retry_after_seconds("Tue, 03 Mar 2026 12:00:07 GMT", now) == 7.0
        assert retry_after_seconds("soon", now) is None

    def test_without_retry_after_the_wait_doubles(self) -> None:
        server = Recorder(
            problem(429, title="Too Many Requests"), problem(429, title="x"), httpx.Response(200, json=TICKET)
        )
        slept: list[float] = []
        PledgeClient("http://p", "k", transport=httpx.MockTransport(server), sleep=slept.append,
                     retry=RetryPolicy(backoff=1.0)).get_ticket("crm:WO-1")  # fmt: skip
        assert slept == [1.0, 2.0]

    def test_a_retry_after_beyond_the_ceiling_is_capped(self) -> None:
        server = Recorder(problem(503, title="x"), httpx.Response(200, json=TICKET))
        server.answers[0].headers["Retry-After"] = "86400"
        slept: list[float] = []
        PledgeClient("http://p", "k", transport=httpx.MockTransport(server), sleep=slept.append,
                     retry=RetryPolicy(max_wait=30)).get_ticket("crm:WO-1")  # fmt: skip
        assert slept == [30]

    def test_after_the_last_attempt_the_503_is_raised_as_a_problem(self) -> None:
        server = Recorder(*(problem(503, title="Service Unavailable", detail="database unavailable") for _ in range(4)))
        slept: list[float] = []
        with pytest.raises(PledgeProblem) as raised:
            client(server, slept).get_ticket("crm:WO-1")
        assert raised.value.status == 503
        assert raised.value.detail == "database unavailable"
        assert len(server.requests) == 4
        assert len(slept) == 3

    def test_other_errors_are_not_retried(self) -> None:
        server = Recorder(problem(409, title="Conflict", detail="another payload"))
        with pytest.raises(PledgeProblem):
            client(server, []).push_event(EVENT)
        assert len(server.requests) == 1

    def test_a_keyed_post_lost_in_transit_is_sent_again_with_its_key(self) -> None:
        seen: list[httpx.Request] = []

        def flaky(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if len(seen) == 1:
                raise httpx.ConnectError("connection reset")
            return httpx.Response(201, json={"event_id": "e1", "source": "crm", "status": "accepted"})

        result = PledgeClient("http://p", "k", transport=httpx.MockTransport(flaky), sleep=lambda s: None).push_event(
            EVENT
        )
        assert result.status == "accepted"
        assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]

    def test_an_unreachable_server_is_a_problem_naming_it(self) -> None:
        def down(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused")

        with pytest.raises(PledgeProblem) as raised:
            PledgeClient("http://p", "k", transport=httpx.MockTransport(down), sleep=lambda s: None).get_ticket("x")
        assert raised.value.one_line().startswith("cannot reach http://p")


class TestIdempotency:
    def test_each_logical_call_draws_its_own_key(self) -> None:
        server = Recorder(httpx.Response(200, json=BULK_OK), httpx.Response(200, json=BULK_OK))
        pledge = client(server, [])
        pledge.push_events([EVENT])
        pledge.push_events([EVENT])
        assert server.requests[0].headers["Idempotency-Key"] != server.requests[1].headers["Idempotency-Key"]

    def test_a_key_given_by_the_caller_is_sent(self) -> None:
        server = Recorder(httpx.Response(200, json=BULK_OK))
        client(server, []).push_events([EVENT], idempotency_key="crm-batch-1")
        assert server.requests[0].headers["Idempotency-Key"] == "crm-batch-1"

    def test_reads_carry_no_key(self) -> None:
        server = Recorder(httpx.Response(200, json=TICKET))
        client(server, []).get_ticket("crm:WO-1")
        assert "Idempotency-Key" not in server.requests[0].headers
        assert server.requests[0].headers["Authorization"] == "Bearer pledge_k"


class TestProblems:
    def test_a_problem_carries_type_status_detail_and_errors(self) -> None:
        errors = [{"field": "ticket.process", "message": "unknown process warp"}]
        server = Recorder(problem(422, type="/problems/validation", title="Unprocessable Content",
                                  detail="ticket.process: unknown process warp", errors=errors))  # fmt: skip
        with pytest.raises(PledgeProblem) as raised:
            client(server, []).push_event(EVENT)
        p = raised.value
        assert (p.type, p.status, p.detail, p.errors) == ("/problems/validation", 422, errors[0]["field"] + ": " +
                                                          errors[0]["message"], errors)  # fmt: skip
        assert p.one_line() == "422 Unprocessable Content: ticket.process: unknown process warp"

    def test_an_answer_that_is_not_a_problem_is_one_too(self) -> None:
        server = Recorder(httpx.Response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}))
        with pytest.raises(PledgeProblem) as raised:
            client(server, []).get_ticket("x")
        assert raised.value.status == 502
        assert raised.value.type == "about:blank"
        assert raised.value.detail == "<html>bad gateway</html>"


class TestReads:
    def test_a_reference_cannot_leave_its_path_segment(self) -> None:
        server = Recorder(httpx.Response(200, json=TICKET))
        client(server, []).get_ticket("crm:WO/../1?x")
        assert server.requests[0].url.raw_path == b"/v1/tickets/crm:WO%2F..%2F1%3Fx"

    def test_iterating_follows_next_cursor_with_the_same_filters(self) -> None:
        server = Recorder(httpx.Response(200, json={"items": [TICKET], "next_cursor": "c2"}),
                          httpx.Response(200, json={"items": [TICKET], "next_cursor": None}))  # fmt: skip
        found = list(client(server, []).iter_tickets(process="fault-repair", status="open"))
        assert len(found) == 2
        assert dict(server.requests[1].url.params) == {"process": "fault-repair", "status": "open", "cursor": "c2"}

    def test_an_answer_in_names_outside_the_guide_is_refused_not_guessed(self) -> None:
        older = {**TICKET, "process_key": "fault-repair"}
        del older["process"]
        server = Recorder(httpx.Response(200, json={"items": [older], "next_cursor": None}))
        with pytest.raises(pydantic.ValidationError, match="process"):
            list(client(server, []).iter_tickets())

    def test_filters_follow_the_guide_and_repeat_group_by(self) -> None:
        report = {"as_of": "2026-03-03T00:00:00Z", "group_by": ["process", "node"], "rows": [], "totals": []}
        server = Recorder(httpx.Response(200, json=report))
        client(server, []).status_report(from_="2026-03-01T00:00:00Z", to=datetime(2026, 3, 2, tzinfo=UTC),
                                         group_by=["process", "node"], process="fault-repair")  # fmt: skip
        assert server.requests[0].url.params.multi_items() == [
            ("from", "2026-03-01T00:00:00Z"), ("to", "2026-03-02T00:00:00+00:00"), ("group_by", "process"),
            ("group_by", "node"), ("process", "fault-repair")]  # fmt: skip

    def test_ndjson_is_sent_as_a_stream_of_lines(self) -> None:
        server = Recorder(httpx.Response(200, json=BULK_OK))
        client(server, []).push_ndjson([EVENT, EVENT])
        sent = server.requests[0]
        assert sent.headers["Content-Type"] == "application/x-ndjson"
        assert [json.loads(line) for line in sent.content.splitlines()] == [EVENT, EVENT]


class TestAsync:
    async def test_the_async_client_retries_with_the_same_key(self) -> None:
        server = Recorder(problem(429, title="Too Many Requests"), httpx.Response(200, json=BULK_OK))
        server.answers[0].headers["Retry-After"] = "2"
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        async with AsyncPledgeClient("http://p", "k", transport=httpx.MockTransport(server), sleep=sleep) as pledge:
            result = await pledge.push_events([EVENT])
        assert result.accepted == 1
        assert slept == [2.0]
        assert server.requests[0].headers["Idempotency-Key"] == server.requests[1].headers["Idempotency-Key"]

    async def test_the_async_client_raises_problems(self) -> None:
        server = Recorder(problem(404, title="Not Found", detail="no ticket crm:WO-2"))
        async with AsyncPledgeClient("http://p", "k", transport=httpx.MockTransport(server)) as pledge:
            with pytest.raises(PledgeProblem, match="no ticket crm:WO-2"):
                await pledge.get_ticket("crm:WO-2")
