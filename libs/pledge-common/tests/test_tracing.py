"""W3C trace context: honoured on the way in, passed on to other services, recorded as spans only when asked."""

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pledge_common import tracing
from pledge_common.db import create_sessionmaker
from pledge_common.internal import add_context_headers
from pledge_common.observability import JsonFormatter, Metrics, RequestContextMiddleware
from pledge_common.outbox import FeedEvent, emit_many, read_feed
from sqlalchemy.ext.asyncio import AsyncEngine

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans recorded in memory (the SDK's own test exporter) for the duration of one test."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_tracer_provider(provider)
    yield exporter
    tracing.use_tracer_provider(None)


def downstream_app(seen: list[dict[str, str]]) -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    @app.middleware("http")
    async def record(request: Any, call_next: Any) -> Any:
        seen.append(dict(request.headers))
        return await call_next(request)

    return app


def upstream_app(downstream: FastAPI) -> FastAPI:
    """A service whose route calls another service with the suite's outgoing hook."""
    app = FastAPI()

    @app.get("/calls/{call_id}")
    async def call(call_id: str) -> dict[str, Any]:
        transport = httpx.ASGITransport(app=downstream)
        hooks = {"request": [add_context_headers]}
        async with httpx.AsyncClient(transport=transport, base_url="http://down", event_hooks=hooks) as client:
            answer = await client.get(f"/things/{call_id}")
        logging.getLogger("pledge.test").info("called")
        return {"trace_id": tracing.current_trace_id(), "answer": answer.json()}

    app.add_middleware(RequestContextMiddleware, metrics=Metrics("tracingtest"))
    return app


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[httpx.AsyncClient, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    app = upstream_app(downstream_app(seen))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as client:
        yield client, seen


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("pledge.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


class TestWithoutAnExporter:
    async def test_the_incoming_trace_id_is_logged_and_passed_on_unchanged(
        self, upstream: tuple[httpx.AsyncClient, list[dict[str, str]]], log_lines: io.StringIO
    ) -> None:
        client, seen = upstream
        response = await client.get("/calls/c-1", headers={"traceparent": TRACEPARENT})
        assert response.json()["trace_id"] == TRACE_ID
        assert seen[0]["traceparent"] == TRACEPARENT  # no span of ours: the caller's context goes on as it came
        logged = [json.loads(line) for line in log_lines.getvalue().splitlines()]
        assert [entry["trace_id"] for entry in logged] == [TRACE_ID]

    async def test_a_request_without_trace_context_carries_none(
        self, upstream: tuple[httpx.AsyncClient, list[dict[str, str]]], log_lines: io.StringIO
    ) -> None:
        client, seen = upstream
        response = await client.get("/calls/c-2")
        assert response.json()["trace_id"] is None
        assert "traceparent" not in seen[0]
        assert "trace_id" not in json.loads(log_lines.getvalue().splitlines()[0])

    async def test_a_malformed_traceparent_is_ignored(
        self, upstream: tuple[httpx.AsyncClient, list[dict[str, str]]]
    ) -> None:
        client, seen = upstream
        response = await client.get("/calls/c-3", headers={"traceparent": "00-not-a-trace-01"})
        assert response.status_code == 200
        assert response.json()["trace_id"] is None
        assert "traceparent" not in seen[0]

    def test_tracing_is_off_unless_an_otlp_endpoint_is_configured(self) -> None:
        assert not tracing.tracing_requested({})
        assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
        assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
        assert not tracing.recording()


class TestWithAnExporter:
    async def test_the_server_span_is_a_child_of_the_incoming_traceparent(
        self, upstream: tuple[httpx.AsyncClient, list[dict[str, str]]], spans: InMemorySpanExporter
    ) -> None:
        client, _ = upstream
        await client.get("/calls/c-1", headers={"traceparent": TRACEPARENT})
        (server,) = spans.get_finished_spans()
        assert server.kind is SpanKind.SERVER
        assert server.name == "GET /calls/{call_id}"  # the route template, never the path
        assert f"{server.context.trace_id:032x}" == TRACE_ID
        assert server.parent is not None
        assert f"{server.parent.span_id:016x}" == PARENT_ID
        assert server.attributes is not None
        assert server.attributes["http.response.status_code"] == 200

    async def test_the_outgoing_call_carries_the_server_span_as_parent(
        self, upstream: tuple[httpx.AsyncClient, list[dict[str, str]]], spans: InMemorySpanExporter
    ) -> None:
        client, seen = upstream
        await client.get("/calls/c-1", headers={"traceparent": TRACEPARENT})
        (server,) = spans.get_finished_spans()
        assert seen[0]["traceparent"] == f"00-{TRACE_ID}-{server.context.span_id:016x}-01"

    async def test_a_request_without_trace_context_starts_a_trace(
        self, upstream: tuple[httpx.AsyncClient, list[dict[str, str]]], spans: InMemorySpanExporter
    ) -> None:
        client, seen = upstream
        response = await client.get("/calls/c-2")
        (server,) = spans.get_finished_spans()
        assert server.parent is None
        assert response.json()["trace_id"] == f"{server.context.trace_id:032x}"
        assert seen[0]["traceparent"].split("-")[1] == response.json()["trace_id"]

    async def test_a_feed_batch_span_links_to_the_spans_that_wrote_its_events(
        self, spans: InMemorySpanExporter
    ) -> None:
        other = f"00-{'1' * 32}-{'2' * 16}-01"
        events = [
            FeedEvent("1:1", 1, "run.upserted", "k1", {}, "2026-03-03T10:00:00Z", traceparent=TRACEPARENT),
            FeedEvent("1:2", 2, "run.upserted", "k2", {}, "2026-03-03T10:00:00Z", traceparent=TRACEPARENT),
            FeedEvent("1:3", 3, "run.upserted", "k3", {}, "2026-03-03T10:00:00Z", traceparent=other),
            FeedEvent("1:4", 4, "run.upserted", "k4", {}, "2026-03-03T10:00:00Z"),
        ]
        applied: list[int] = []

        async def handler(session: None, batch: Any) -> None:
            applied.append(len(batch))

        await tracing.traced_batch("tracking", handler)(None, events)
        (batch,) = spans.get_finished_spans()
        assert applied == [4]
        assert batch.kind is SpanKind.CONSUMER
        linked = {(f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in batch.links}
        assert linked == {(TRACE_ID, PARENT_ID), ("1" * 32, "2" * 16)}


async def feed_events(engine: AsyncEngine, count: int) -> list[FeedEvent]:
    """The first `count` events of the feed, once served: a transaction still open elsewhere on the server (the
    snapshot's xmin is the server's) holds them back for a while; the ceiling only stops a test that would hang."""
    deadline = time.monotonic() + 60
    while True:
        bodies, _ = await read_feed(engine, None, count)
        if len(bodies) >= count or time.monotonic() > deadline:
            return [msgspec.json.decode(body, type=FeedEvent) for body in bodies]
        await asyncio.sleep(0.1)


class TestFeedEventsCarryTheirTraceContext:
    async def test_events_written_in_a_span_name_it_on_the_feed(
        self, clean_feed: AsyncEngine, spans: InMemorySpanExporter
    ) -> None:
        with tracing.tracer().start_as_current_span("ingest") as span:
            expected = tracing.current_traceparent()
            async with create_sessionmaker(clean_feed)() as session, session.begin():
                await emit_many(session, [("run.upserted", "k1", {"n": 1})])
                await emit_many(session, [("run.upserted", "k2", {"n": 2})])
        events = await feed_events(clean_feed, 2)
        assert expected is not None
        assert expected.split("-")[2] == f"{span.get_span_context().span_id:016x}"
        assert [e.traceparent for e in events] == [expected, expected]

    async def test_events_written_outside_a_trace_carry_none(self, clean_feed: AsyncEngine) -> None:
        async with create_sessionmaker(clean_feed)() as session, session.begin():
            await emit_many(session, [("run.upserted", "k1", {"n": 1})])
            await emit_many(session, [("run.upserted", "k2", {"n": 2})])
        assert [e.traceparent for e in await feed_events(clean_feed, 2)] == [None, None]
