"""HTTP request metrics: count and duration by method, route template and status.

Labels come from the route the router chose (`/v1/practices/{ods}/patients/{nhs_number}`),
never from the raw path, which carries NHS numbers; a path no route matches is `unmatched`,
so a scan of random URLs cannot grow the label set. `HttpEdge` (http_edge.py) records every
answer, refusals and 500s included.
"""

import time

from prometheus_client import Counter, Histogram
from starlette.types import Scope

from ensemble_runtime import metrics

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED


def method_label(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in METHODS else "other"  # a client may send any word


# (method, route, status) -> its count and duration series. `labels()` checks and locks on
# every call, which showed in profiles; the series it answers never change (none is ever
# removed), and the keys are bounded as the labels are: methods x route templates x statuses.
_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe_request(scope: Scope, status: int, started: float) -> None:
    """Count one answer and its duration since `started` (a `time.perf_counter()`)."""
    method = method_label(scope)
    route = route_template(scope)
    key = (method, route, status)
    series = _series.get(key)
    if series is None:
        series = (
            metrics.HTTP_REQUESTS.labels(method, route, str(status)),
            metrics.HTTP_REQUEST_DURATION.labels(method, route),
        )
        _series[key] = series
    count, duration = series
    count.inc()
    duration.observe(time.perf_counter() - started)
