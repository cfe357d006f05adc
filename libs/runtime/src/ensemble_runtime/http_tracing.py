"""Every HTTP request: a correlation id for its log lines and events, and (tracing on) a span.

The correlation id is the caller's `X-Correlation-ID` when it is a UUID, else a new one; it is
echoed in the answer's `X-Correlation-ID`, so a sender can quote it. The span is a SERVER span
continuing the caller's `traceparent`, named by method and route template
(`POST /v1/hl7v2`), never by the raw path, which may carry NHS numbers; its attributes are the
method, the route template and the status. Probes and scrapes (`/healthz`, `/readyz`,
`/metrics`) are not traced: one root trace per probe would bury the messages' traces.
"""

from typing import Any
from uuid import uuid4

from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ensemble_runtime.correlation import (
    CORRELATION_HEADER,
    bind_correlation,
    parse_correlation_id,
    unbind_correlation,
)
from ensemble_runtime.http_metrics import METHODS, route_template
from ensemble_runtime.tracing import TRACEPARENT, Tracing, parent_from

_CORRELATION = CORRELATION_HEADER.encode()
_TRACEPARENT = TRACEPARENT.encode()
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class HttpTracing:
    """ASGI middleware, outermost: the guard's and the metrics' log lines carry the ids too."""

    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = parse_correlation_id(_header(scope, _CORRELATION)) or uuid4()
        text = str(correlation_id)
        echoed = text.encode()
        status = 500  # no answer started: the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), (_CORRELATION, echoed)]
            await send(message)

        bound = bind_correlation(correlation_id, text)
        try:
            if not self.tracing.enabled or scope.get("path") in UNTRACED_PATHS:
                await self.app(scope, receive, sending)
                return
            method = str(scope.get("method", ""))
            method = method if method in METHODS else "other"
            parent = parent_from(_header(scope, _TRACEPARENT))
            with self.tracing.span(method, kind=SpanKind.SERVER, parent=parent) as span:
                assert span is not None  # tracing is on
                try:
                    await self.app(scope, receive, sending)
                finally:
                    route = route_template(scope)
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.request.method", method)
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
        finally:
            unbind_correlation(bound)


def _header(scope: Scope, name: bytes) -> str | None:
    headers: Any = scope.get("headers") or ()
    for key, value in headers:
        if key == name:
            return str(value.decode("latin-1"))  # latin-1 decodes any bytes
    return None
