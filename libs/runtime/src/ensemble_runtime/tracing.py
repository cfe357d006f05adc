"""Traces across Kafka hops (OpenTelemetry): HL7 intake → every topic → the alert, one trace.

One `Tracing` per service process. With an OTLP endpoint configured (config.py), spans are
recorded and exported over OTLP/HTTP in the background; without one there is no provider, no
exporter and no span objects: the helpers hand back one shared no-op context, so the hot
path pays an attribute check.

How a trace crosses Kafka: the W3C `traceparent` of the span current when a unit of work
stages an event is stored in its outbox row (outbox.py); the relay publishes the row in a
span of its own, child of that one, and sends the publish span's `traceparent` as a Kafka
header (relay.py); each consumed event is processed in its own span, child of that header
(consumer.py), so what its handler stages carries the trace on.

No patient data in spans. Names are fixed words, topics and route templates; attributes are
topics, groups, partitions, offsets, event ids and types, and senders' ODS codes; an error is
recorded by its type alone (a message may quote a field). Never the Kafka key (an NHS number):
that is why consumers open their own spans instead of using FastStream's telemetry middleware,
whose single-message consume and publish spans set `messaging.kafka.message.key`, and whose
batch span is one per poll (links, no parent), not one per event.

An unreachable collector never stops serving: spans queue (bounded) and are dropped, and the
service warns once when exporting starts failing and says when it works again. While it
fails, the collector is tried again once every `RETRY_SECONDS` and other batches are dropped
at once, so the export thread does not sit in the exporter's retries while the queue fills.
"""

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = structlog.get_logger(__name__)

TRACEPARENT = "traceparent"
EXPORT_TIMEOUT_SECONDS = 5.0  # per batch; a dead collector must not hold up a stop for long
RETRY_SECONDS = 5.0  # a failing collector is tried this often; batches between are dropped
# Loggers that would write a line (or a traceback) per failed batch or per dropped span.
_CHATTY_LOGGERS = ("opentelemetry.exporter.otlp.proto.http", "opentelemetry.sdk._shared_internal")
Attributes = Mapping[str, str | int | bool]
_PROPAGATOR = TraceContextTextMapPropagator()
_OFF: contextlib.nullcontext[None] = contextlib.nullcontext()  # reusable, and costs nothing


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span (None outside one, e.g. tracing off)."""
    return traceparent_of(trace.get_current_span())


def traceparent_of(span: Span) -> str | None:
    context = span.get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a traceparent names, for log lines (no parsing beyond its shape)."""
    if traceparent is None or len(traceparent) != 55 or traceparent[2] != "-":
        return None
    return traceparent[3:35]


def parent_from(traceparent: str | None) -> Context | None:
    """The context to continue from a received traceparent; None starts a new trace (a
    malformed one too: the propagator ignores it)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


def header_traceparent(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    """The `traceparent` header of a Kafka record, if any."""
    for name, value in headers or ():
        if name == TRACEPARENT and value:
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


class TracingSettingError(Exception):
    """An OTEL_* setting the SDK refuses at start: one line, no traceback (service.serve)."""


_BATCH_SETTINGS = (
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
)


def _batch_processor(exporter: SpanExporter) -> BatchSpanProcessor:
    # The SDK logs a bad OTEL_BSP_* value with a traceback and quietly uses its default:
    # refused here instead, so an operator's typo is seen, once, at start.
    for name in _BATCH_SETTINGS:
        value = os.environ.get(name, "").strip()
        if value and not (value.isdecimal() and int(value) > 0):
            raise TracingSettingError(f"{name}: {value[:20]!r} is not a positive whole number")
    return BatchSpanProcessor(exporter)


class Tracing:
    """A service process's tracer: recording and exporting spans, or off."""

    def __init__(self, service: str, exporter: SpanExporter | None = None, *, batch: bool = True):
        self.service = service
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None
        if exporter is not None:
            self._provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
            processor = _batch_processor(exporter) if batch else SimpleSpanProcessor(exporter)
            self._provider.add_span_processor(processor)
            self._tracer = self._provider.get_tracer("ensemble_runtime")

    @classmethod
    def otlp(cls, service: str, endpoint: str | None) -> "Tracing":
        """Exporting to `endpoint` (the full `/v1/traces` URL), or off when it is None."""
        if endpoint is None:
            return cls(service)
        # The exporter logs every failed batch with its retries, the SDK every span it drops
        # from a full queue; QuietExporter warns once instead.
        for name in _CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=EXPORT_TIMEOUT_SECONDS)
        tracing = cls(service, QuietExporter(exporter, endpoint))
        log.info("tracing on", collector=_where(endpoint))
        return tracing

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        parent: Context | None = None,
    ) -> contextlib.AbstractContextManager[Span | None]:
        """A current span around a block (None inside when tracing is off). An error leaving
        the block marks the span with the error's type only, never its message."""
        if self._tracer is None:
            return _OFF
        return _current_span(self._tracer, name, kind, attributes, parent)

    def start_span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
        parent: Context | None = None,
    ) -> Span | None:
        """A span the caller ends (`end_span`), not made current; None when tracing is off."""
        if self._tracer is None:
            return None
        return self._tracer.start_span(name, context=parent, kind=kind, attributes=attributes)

    def flush(self, timeout_seconds: float = EXPORT_TIMEOUT_SECONDS) -> None:
        if self._provider is not None:
            self._provider.force_flush(int(timeout_seconds * 1000))

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def end_span(span: Span | None, error: BaseException | None = None) -> None:
    if span is None:
        return
    if error is not None:
        _mark_failed(span, error)
    span.end()


TRACING_OFF = Tracing("off")


@contextlib.contextmanager
def _current_span(
    tracer: trace.Tracer,
    name: str,
    kind: SpanKind,
    attributes: Attributes | None,
    parent: Context | None,
) -> Iterator[Span]:
    # record_exception=False: an exception event carries the message and the stack.
    with tracer.start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as error:
            _mark_failed(span, error)
            raise


def _mark_failed(span: Span, error: BaseException) -> None:
    kind = type(error).__name__
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR, kind))


class QuietExporter(SpanExporter):
    """Wraps the OTLP exporter: a failing collector is one warning, not a log line (or a
    traceback) per batch; its recovery is one more line."""

    def __init__(
        self, inner: SpanExporter, endpoint: str, retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self._inner = inner
        self._where = _where(endpoint)
        self._retry_seconds = retry_seconds
        self._next_try = 0.0  # monotonic; while failing, batches before it are dropped
        self.failing = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        now = time.monotonic()
        if self.failing and now < self._next_try:
            return SpanExportResult.FAILURE
        try:
            result = self._inner.export(spans)
        except Exception:  # the exporter should not raise; the service must not hear it if so
            result = SpanExportResult.FAILURE
        failed = result is not SpanExportResult.SUCCESS
        self._next_try = time.monotonic() + self._retry_seconds if failed else 0.0
        if failed and not self.failing:
            log.warning(
                "trace export failing, spans dropped until the collector answers",
                collector=self._where,
            )
        elif not failed and self.failing:
            log.info("trace export works again", collector=self._where)
        self.failing = failed
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _where(endpoint: str) -> str:
    """Scheme, host and port of an endpoint: never credentials or a query it may carry."""
    parts = urlsplit(endpoint)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def messaging_attributes(
    topic: str, operation: str, more: Mapping[str, str | int | None]
) -> dict[str, str | int | bool]:
    """OpenTelemetry messaging attributes for Kafka (`more` without its None values); never
    the message key."""
    found: dict[str, str | int | bool] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
    }
    found.update({name: value for name, value in more.items() if value is not None})
    return found
