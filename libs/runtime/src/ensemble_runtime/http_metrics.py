"""HTTP request metrics: count and duration by method, route template and status.

Labels come from the route the router chose (`/v1/practices/{ods}/patients/{nhs_number}`),
never from the raw path, which carries NHS numbers; a path no route matches is `unmatched`,
so a scan of random URLs cannot grow the label set.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ensemble_runtime import metrics

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


class HttpMetrics:
    """ASGI middleware, outermost: it sees the final status, refusals and 500s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # no answer started: the server answers 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = str(scope.get("method", ""))
            method = method if method in METHODS else "other"  # a client may send any word
            route = route_template(scope)
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_REQUEST_DURATION.labels(method, route).observe(
                time.perf_counter() - started
            )
