"""OpenTelemetry traces: Flask, SQLAlchemy, Redis and RQ, the context carried from request to job.

Each process sets up one tracer provider with `setup()`, after gevent has
patched the standard library and, under gunicorn, after the fork (the app is
never preloaded). Spans go to OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is
set, otherwise to JSON-lines files in STATE/traces (target_app.instrumentation.span_files).
FAULTYARD_TRACING=false turns all of it off. Requests and statements get
their spans from target_app.instrumentation.span_hooks (statements through
target_app.instrumentation.statement_watch), Redis commands from OTel's Redis
instrumentation, RQ jobs from `TracedJobsMixin`. A process starts at most
FAULTYARD_TRACING_MAX_TRACES_PER_S new traces a second (EntrySpanSampler).

The trace of a checkout crosses three processes: the request writes an outbox
event stamped with its W3C `traceparent`; the relay continues that context
when it enqueues the payment job and copies it into the job's meta; the
worker runs the job inside a span continuing it again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Engine, event

from target_app.config import ShopSettings
from target_app.instrumentation import span_hooks
from target_app.instrumentation.span_files import JsonLinesSpanExporter
from target_app.pgerrors import sqlstate

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_exporter: SpanExporter | None = None
_entry_sampler: EntrySpanSampler | None = None


class EntrySpanSampler(Sampler):
    """Sample new traces that start with a unit of work, at most `per_s` a second.

    A CLIENT span with no parent is background polling (the relay's queries,
    the RQ workers' Redis commands): sampled, it would make thousands of
    one-span traces a minute that bury the requests and jobs. The rate limit
    (a token bucket holding one second's worth) traces every request at human
    pace and bounds what tracing costs under a load test. Under ParentBased,
    this decides only for roots: a continued trace follows its parent.
    """

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self._clock = clock
        self._tokens = per_s
        self._refilled = clock()

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT or not self._take():
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def would_sample(self) -> bool:
        """Return whether a new root span would be sampled now, without taking a token.

        The request hook asks first: building an SDK span only to drop it costs
        every unsampled request more than the trace it leaves out.
        """
        return self._refill()

    def _take(self) -> bool:
        if not self._refill():
            return False
        if self.per_s:
            self._tokens -= 1
        return True

    def _refill(self) -> bool:
        """Add the tokens earned since the last refill; return whether one is there."""
        if not self.per_s:
            return True
        now = self._clock()
        self._tokens = min(self.per_s, self._tokens + (now - self._refilled) * self.per_s)
        self._refilled = now
        return self._tokens >= 1

    def get_description(self) -> str:
        return f"EntrySpanSampler{{{self.per_s}/s}}"


def setup(settings: ShopSettings, *, service: str) -> TracerProvider | None:
    """Install this process's tracer provider once; return it, or None when tracing is off."""
    global _provider, _exporter
    if not settings.tracing:
        return None
    if _provider is not None:
        return _provider
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    from target_app.models import OutboxEvent

    pid = os.getpid()
    resource = Resource.create(
        {
            "service.name": service,
            "service.namespace": "faultyard",
            "service.instance.id": f"{service}-{pid}",
            "process.pid": pid,
        }
    )
    _exporter = _make_exporter(settings, service)
    global _entry_sampler
    _entry_sampler = EntrySpanSampler(settings.tracing_max_traces_per_s)
    provider = TracerProvider(resource=resource, sampler=ParentBased(_entry_sampler))
    provider.add_span_processor(
        BatchSpanProcessor(_exporter, schedule_delay_millis=settings.tracing_flush_interval_ms)
    )
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    event.listen(OutboxEvent, "before_insert", _stamp_outbox_event)
    _provider = provider
    return provider


def _make_exporter(settings: ShopSettings, service: str) -> SpanExporter:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        # Imported only when used: protobuf and requests cost every process start.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return JsonLinesSpanExporter(
        settings.traces_dir.resolve(),
        service=service,
        max_file_bytes=settings.tracing_file_max_bytes,
        max_dir_bytes=settings.tracing_dir_max_bytes,
    )


def span_files_dir() -> Path | None:
    """Return the folder this process writes span files to (None: tracing off, or OTLP)."""
    return _exporter.directory if isinstance(_exporter, JsonLinesSpanExporter) else None


def force_flush() -> None:
    """Export every span ended so far."""
    if _provider is not None:
        _provider.force_flush()


def shutdown() -> None:
    """Flush and stop this process's tracing (on a worker's or the relay's way out)."""
    if _provider is not None:
        _provider.shutdown()


def init_app(app: Flask, settings: ShopSettings) -> span_hooks.RequestSpans | None:
    """Trace every request of the app (but the health checks and metric scrapes).

    Return the shop's own request spans, for the request hooks to run
    (target_app.instrumentation.request_hooks); None when tracing is off or when
    opentelemetry-instrumentation-flask makes the spans instead.
    """
    provider = setup(settings, service="shop")
    if provider is None:
        return None
    if settings.tracing_library_instrumentation:
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(
            app,
            tracer_provider=provider,
            excluded_urls=",".join([*span_hooks.UNTRACED_ROUTES, span_hooks.ADMIN_PREFIX]),
        )
        return None
    assert _entry_sampler is not None
    return span_hooks.RequestSpans(
        provider.get_tracer("target_app.requests"), _entry_sampler.would_sample
    )


def instrument_engine(engine: Engine, settings: ShopSettings) -> None:
    """With library instrumentation on, trace the engine's statements with SQLAlchemy's own."""
    if _provider is None or not settings.tracing or not settings.tracing_library_instrumentation:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(engine=engine, tracer_provider=_provider)


def statement_tracer(settings: ShopSettings) -> Tracer | None:
    """Return the tracer of the shop's own statement spans (None when they are not wanted)."""
    if _provider is None or not settings.tracing or settings.tracing_library_instrumentation:
        return None
    return _provider.get_tracer("target_app.statements")


def record_error(exc: BaseException) -> None:
    """Mark the current span failed with this exception (and its SQLSTATE, if any)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    code = sqlstate(exc)
    if code:
        span.set_attribute(span_hooks.DB_SQLSTATE, code)


def context_carrier() -> dict[str, str]:
    """Return the current trace context as W3C headers ({} outside any trace).

    An unsampled trace travels too (flag 00): the job is not traced either,
    but its log lines carry the same trace id as the request's.
    """
    carrier: dict[str, str] = {}
    if _provider is not None and trace.get_current_span().get_span_context().is_valid:
        _PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def continued_span(
    name: str,
    carrier: Mapping[str, Any] | None,
    *,
    kind: SpanKind,
    attributes: dict[str, Any] | None = None,
) -> Iterator[Span | None]:
    """Run the block in a span continuing the trace `carrier` holds (a new trace without one)."""
    if _provider is None:
        yield None
        return
    parent = _PROPAGATOR.extract(carrier or {})
    tracer = _provider.get_tracer(__name__)
    with tracer.start_as_current_span(
        name, context=parent, kind=kind, attributes=attributes
    ) as span:
        yield span


def _stamp_outbox_event(_mapper: Any, _connection: Any, target: Any) -> None:
    """Carry the writer's trace context in the event, so the relay can continue it."""
    carrier = context_carrier()
    if carrier and "traceparent" not in target.payload:
        target.payload = {**target.payload, **carrier}


class TracedJobsMixin:
    """An RQ worker mixin: each job runs in a CONSUMER span continuing its enqueuer's trace."""

    def perform_job(self, job: Job, queue: Queue) -> bool:
        from target_app.instrumentation.job_metrics import (
            job_label,
        )  # RQ stays out of the web process

        name = job_label(job)
        attributes = {
            "messaging.system": "rq",
            "messaging.operation.type": "process",
            "messaging.destination.name": queue.name,
            "messaging.message.id": job.id,
            "rq.job.func": name,
        }
        with continued_span(f"job {name}", job.meta, kind=SpanKind.CONSUMER, attributes=attributes):
            return super().perform_job(job, queue)  # type: ignore[misc, no-any-return]

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        if exc_info and exc_info[1] is not None:
            record_error(exc_info[1])
        super().handle_exception(job, *exc_info)  # type: ignore[misc]
