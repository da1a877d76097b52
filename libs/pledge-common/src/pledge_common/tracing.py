"""Distributed tracing: W3C trace context in and out of every process, spans exported over OTLP when asked.

Off by default. Without `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) the tracer is
OpenTelemetry's no-op one: no span is recorded or exported, yet an incoming `traceparent` is still honoured. Its
trace id is the current span's (logs carry it as `trace_id`) and it goes on, unchanged, on every call to another
service. With the variable set, every request, outgoing call and feed batch becomes a span, exported in batches
by the OTLP/HTTP exporter, which reads the standard `OTEL_EXPORTER_OTLP_*` variables itself.

Feed events carry the trace context of the transaction that wrote them (`outbox.traceparent`); a consumer's
batch span links to the spans that produced its events (links, not parents: one batch holds many traces).
"""

import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
TRACEPARENT = "traceparent"
MAX_LINKS = 128  # a feed batch links to at most this many producing spans
_NOOP: trace.Tracer = trace.NoOpTracer()
_state: dict[str, Any] = {"tracer": _NOOP, "provider": None, "exporting": False}


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Tracing is on only when an OTLP endpoint is configured (the standard variables)."""
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(service: str) -> None:
    """Export spans over OTLP when an endpoint is configured; otherwise keep the no-op tracer. Idempotent."""
    if _state["provider"] is not None or not tracing_requested():
        return
    # imported here: a process that does not trace never loads the SDK
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"pledge-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use_tracer_provider(provider)
    _state["exporting"] = True


class _Provider(Protocol):
    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer: ...


def use_tracer_provider(provider: _Provider | None) -> None:
    """Record spans with `provider` (None: back to the no-op tracer). Tests pass one with an in-memory exporter."""
    _state["provider"] = provider
    _state["tracer"] = provider.get_tracer("pledge") if provider is not None else _NOOP


def shutdown_tracing() -> None:
    """Flush and stop the OTLP exporter that `configure_tracing` started (at the end of the lifespan)."""
    if not _state["exporting"]:
        return
    _state["provider"].shutdown()
    _state["exporting"] = False
    use_tracer_provider(None)


def tracer() -> trace.Tracer:
    return _state["tracer"]  # type: ignore[no-any-return]


def recording() -> bool:
    """Whether spans are recorded (an exporter or a test provider is installed)."""
    return _state["provider"] is not None


def extract(carrier: Mapping[str, str]) -> Any:
    """The context of an incoming `traceparent` (an empty context when absent or malformed)."""
    return PROPAGATOR.extract(carrier)


def inject(carrier: Any) -> None:
    """Write the current span's `traceparent` into `carrier` (a dict or httpx headers); nothing without a trace."""
    PROPAGATOR.inject(carrier)


def current_traceparent() -> str | None:
    """The `traceparent` of the current span, None when there is no valid trace."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits (what logs carry), None outside a trace."""
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


@contextmanager
def server_span(headers: Mapping[str, str], name: str) -> Iterator[Span | None]:
    """The span of one incoming request, child of its `traceparent`. None (and nothing done) when nothing is
    traced and the request carries no trace context: the common case costs one dictionary look-up."""
    if not recording() and TRACEPARENT not in headers:
        yield None
        return
    parent = extract(headers)
    with tracer().start_as_current_span(name, context=parent, kind=SpanKind.SERVER) as span:
        yield span


@contextmanager
def internal_span(name: str) -> Iterator[Span | None]:
    """A span of background work (an alert scan); nothing at all when spans are not recorded."""
    if not recording():
        yield None
        return
    with tracer().start_as_current_span(name) as span:
        yield span


def links_of(traceparents: Iterable[str | None]) -> list[Link]:
    """Span links to the producers whose `traceparent`s are given (distinct, at most MAX_LINKS)."""
    links: list[Link] = []
    seen: set[str] = set()
    for value in traceparents:
        if not value or value in seen:
            continue
        seen.add(value)
        context = trace.get_current_span(extract({TRACEPARENT: value})).get_span_context()
        if context.is_valid:
            links.append(Link(context))
            if len(links) >= MAX_LINKS:
                break
    return links


class _Traced(Protocol):
    @property
    def traceparent(self) -> str | None: ...


S = TypeVar("S")
E = TypeVar("E", bound=_Traced)


def traced_batch(
    name: str, handler: Callable[[S, Sequence[E]], Awaitable[None]]
) -> Callable[[S, Sequence[E]], Awaitable[None]]:
    """`handler` of feed batches in a consumer span linked to the spans that wrote the batch's events."""

    async def handle(session: S, events: Sequence[E]) -> None:
        if not recording():
            await handler(session, events)
            return
        links = links_of(e.traceparent for e in events)
        with tracer().start_as_current_span(f"apply {name}", kind=SpanKind.CONSUMER, links=links) as span:
            span.set_attribute("messaging.batch.message_count", len(events))
            await handler(session, events)

    return handle
