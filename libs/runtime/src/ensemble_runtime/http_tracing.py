"""Every HTTP request: a correlation id for its log lines and events, and (tracing on) a span.

The correlation id is the caller's `X-Correlation-ID` when it is a UUID, else a new one; it is
echoed in the answer's `X-Correlation-ID`, so a sender can quote it. The span is a SERVER span
continuing the caller's `traceparent`, named by method and route template
(`POST /v1/hl7v2`), never by the raw path, which may carry NHS numbers; its attributes are the
method, the route template and the status. Probes and scrapes (`/healthz`, `/readyz`,
`/metrics`) are not traced: one root trace per probe would bury the messages' traces.

`HttpEdge` (http_edge.py) applies both to every request; the pieces are here.
"""

import contextlib
import os
import random
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from opentelemetry.trace import SpanKind
from starlette.types import Scope

from ensemble_runtime.correlation import CORRELATION_HEADER, parse_correlation_id
from ensemble_runtime.http_metrics import method_label, route_template
from ensemble_runtime.tracing import TRACEPARENT, Tracing, parent_from

CORRELATION = CORRELATION_HEADER.encode()
_TRACEPARENT = TRACEPARENT.encode()
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# A new id has uuid4's layout: 122 random bits, version 4, RFC 4122 variant. The bits come
# from a generator seeded once from os.urandom (and again in a forked child, so two workers
# never share a sequence), not from a getrandom call per request as uuid4 makes: ids are
# only labels (nothing is authorised by one), so they need uniqueness, not secrecy, and 122
# random bits give it as uuid4 does (a repeat is a ~2**-61 chance after 2**30 ids).
_VERSION_4 = (0x4 << 76) | (0x2 << 62)
_KEEP = ~((0xF << 76) | (0x3 << 62))
_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def new_correlation_id() -> UUID:
    """A fresh correlation id (a version 4 UUID)."""
    return UUID(int=(_random.getrandbits(128) & _KEEP) | _VERSION_4)


def request_correlation(scope: Scope) -> UUID:
    """The caller's correlation id when it sent a valid one, else a new one."""
    return parse_correlation_id(header(scope, CORRELATION)) or new_correlation_id()


def traced(tracing: Tracing, scope: Scope) -> bool:
    return tracing.enabled and scope.get("path") not in UNTRACED_PATHS


@contextlib.contextmanager
def server_span(tracing: Tracing, scope: Scope, status: list[int]) -> Iterator[None]:
    """The request's SERVER span (tracing on); named and labelled when the block ends, with
    the route the router chose and the status the answer started with (500 without one)."""
    method = method_label(scope)
    parent = parent_from(header(scope, _TRACEPARENT))
    with tracing.span(method, kind=SpanKind.SERVER, parent=parent) as span:
        assert span is not None  # tracing is on
        try:
            yield
        finally:
            route = route_template(scope)
            span.update_name(f"{method} {route}")
            span.set_attribute("http.request.method", method)
            span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status[0] if status else 500)


def header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or ()
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))  # latin-1 decodes any bytes
    return None
