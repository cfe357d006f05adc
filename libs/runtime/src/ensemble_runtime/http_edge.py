"""The one ASGI middleware in front of every service's routes (`guard` installs it).

Each HTTP request gets, outermost first: its correlation id, bound for every log line of the
request and echoed in `X-Correlation-ID` (http_tracing.py); its SERVER span, tracing on; its
count and duration (http_metrics.py), which see every answer, the guard's refusals and 500s
included; and the guard's rules (http_guard.py). One layer with one `send` wrapper: as three
middlewares, each wrapping `send`, they showed in profiles of the hot routes.
"""

import contextlib
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ensemble_runtime.correlation import bind_correlation, unbind_correlation
from ensemble_runtime.http_metrics import observe_request
from ensemble_runtime.http_tracing import CORRELATION, request_correlation, server_span, traced
from ensemble_runtime.tracing import Tracing

if TYPE_CHECKING:  # http_guard installs this middleware
    from ensemble_runtime.http_guard import HttpGuard

_UNTRACED: contextlib.nullcontext[None] = contextlib.nullcontext()


class HttpEdge:
    def __init__(self, app: ASGIApp, guard: "HttpGuard", tracing: Tracing | None = None) -> None:
        self.app = app
        self.guard = guard
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = request_correlation(scope)
        text = str(correlation_id)
        echoed = text.encode()
        status: list[int] = []  # the status the answer started with, once it has

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                message["headers"] = [*message.get("headers", ()), (CORRELATION, echoed)]
            await send(message)

        bound = bind_correlation(correlation_id, text)
        try:
            tracing = self.tracing
            span = (
                server_span(tracing, scope, status)
                if tracing is not None and traced(tracing, scope)
                else _UNTRACED
            )
            with span:
                started = time.perf_counter()
                try:
                    await self.guard.serve(self.app, scope, receive, sending, status)
                finally:
                    # No answer started: the server answers 500.
                    observe_request(scope, status[0] if status else 500, started)
        finally:
            unbind_correlation(bound)
