"""OpenTelemetry traces for every process: one trace from an ingest call through Kafka, the writer's
commit, scoring and the alert it raises.

Off unless METERS_OTLP_ENDPOINT names an OTLP/HTTP traces endpoint (Jaeger, the OpenTelemetry
Collector, Azure Monitor's collector): then gRPC servers and clients, psycopg and aiokafka are
instrumented, spans go out in batches, and sampling is METERS_TRACE_SAMPLE_RATIO of new traces
(parent-based: a sampled ingest call stays sampled in every service it reaches). aiokafka's
instrumentation carries the W3C trace context in record headers; a consumer's work on a polled batch
runs in `batch_span` over its `sampled_contexts`: a child of the first sampled record's trace, linked
to the others. Where work
crosses a table instead (the alert outbox), the row keeps `traceparent()` and the sender resumes it
with `resumed`. Health checks and reflection are not traced.
"""

import contextlib
import logging
from collections.abc import Iterable, Iterator

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, SpanKind

from meters.settings import ServiceSettings

log = logging.getLogger(__name__)
MAX_LINKS = 32  # records of a batch linked beyond its parent


_enabled = False


def configure(service: str, settings: ServiceSettings | None = None) -> bool:
    """Set up tracing for this process once, as `service` (settings: METERS_OTLP_ENDPOINT,
    METERS_TRACE_SAMPLE_RATIO, METERS_OTLP_CA_FILE); return whether it is on."""
    global _enabled
    settings = settings or ServiceSettings()
    if _enabled or not settings.otlp_endpoint:
        return _enabled
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, GrpcAioInstrumentorServer, filters
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(resource=Resource.create({"service.name": service}),
                              sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)))
    exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, certificate_file=settings.otlp_ca_file or None)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    quiet = filters.negate(filters.any_of(filters.health_check(), filters.service_prefix("grpc.reflection")))
    GrpcAioInstrumentorServer(filter_=quiet).instrument()
    GrpcAioInstrumentorClient(filter_=quiet).instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    AIOKafkaInstrumentor().instrument()
    _enabled = True
    log.info("tracing on", extra={"fields": {"endpoint": settings.otlp_endpoint,
                                             "sample_ratio": settings.trace_sample_ratio}})
    return True


def _record_context(headers) -> trace.SpanContext:
    carrier = {k: v.decode("latin-1") for k, v in headers or () if isinstance(v, bytes)}
    return trace.get_current_span(propagate.extract(carrier)).get_span_context()


def sampled_contexts(records: Iterable) -> list[trace.SpanContext]:
    """The trace contexts of a polled batch's sampled records, at most 1 + MAX_LINKS ([] when tracing is off)."""
    out = []
    if _enabled:
        for record in records:
            ctx = _record_context(getattr(record, "headers", None))
            if ctx.is_valid and ctx.trace_flags.sampled:
                out.append(ctx)
                if len(out) > MAX_LINKS:
                    break
    return out


@contextlib.contextmanager
def batch_span(name: str, contexts: list[trace.SpanContext], **attributes) -> Iterator[trace.Span]:
    """A span for the work on a polled batch of Kafka records (`sampled_contexts`): in the first sampled
    record's trace, linked to the others' traces. Without a sampled record: a new root, sampled as any."""
    parent = trace.set_span_in_context(trace.NonRecordingSpan(contexts[0])) if contexts else None
    with trace.get_tracer("meters").start_as_current_span(
            name, context=parent, kind=SpanKind.CONSUMER, links=[Link(c) for c in contexts[1:]],
            attributes=attributes) as span:
        yield span


def traceparent() -> str | None:
    """The current span's W3C traceparent, to store beside work handed over through a table."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def resumed(name: str, parent: str | None, **attributes) -> Iterator[trace.Span]:
    """A span continuing the trace a stored traceparent names (a new root if there is none)."""
    context = propagate.extract({"traceparent": parent}) if parent else None
    with trace.get_tracer("meters").start_as_current_span(name, context=context, attributes=attributes) as span:
        yield span


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current recording span, for log lines."""
    ctx = trace.get_current_span().get_span_context()
    return (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}") if ctx.is_valid else None
