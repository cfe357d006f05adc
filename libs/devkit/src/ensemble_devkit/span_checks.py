"""Tests' view of recorded spans: an in-memory tracer, and every text a span carries."""

from collections.abc import Iterator, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ensemble_runtime.tracing import Tracing


def in_memory_tracing(service: str) -> tuple[Tracing, InMemorySpanExporter]:
    """A service's tracing that keeps every ended span, exported at once (no batching)."""
    exporter = InMemorySpanExporter()
    return Tracing(service, exporter, batch=False), exporter


def one_span(spans: InMemorySpanExporter, name: str) -> ReadableSpan:
    """The one ended span of that name."""
    (span,) = [s for s in spans.get_finished_spans() if s.name == name]
    return span


def span_texts(spans: Sequence[ReadableSpan]) -> Iterator[str]:
    """Every name, attribute key and value, event and link of `spans`, and their status, as
    text: what a PII scan of a trace must look through."""
    for span in spans:
        yield span.name
        yield str(span.status.description or "")
        groups = [span.attributes, span.resource.attributes]
        groups += [event.attributes for event in span.events]
        groups += [link.attributes for link in span.links]
        yield from (event.name for event in span.events)
        for attributes in groups:
            for key, value in (attributes or {}).items():
                yield key
                yield str(value)


def trace_ids(spans: Sequence[ReadableSpan]) -> set[str]:
    return {f"{span.context.trace_id:032x}" for span in spans if span.context is not None}
