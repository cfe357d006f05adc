"""The HTTP guard every service's app runs behind: no input gets a 500 or leaks a detail.

- **Authentication before anything else**: a request to a route that needs a caller (any
  `ensemble_runtime.auth.caller(kind)` dependency, e.g. `Staff`, or a route marked
  `ensemble_runtime.auth.authenticates(kind)`) without a token of that kind
  gets the 401 the route itself would give, whatever else is wrong with it: not a byte of its
  body is read, and validation details (422) are for authenticated callers only. They never
  echo input values.
- **Body size** is capped before the body is read: a `Content-Length` over the cap answers 413
  at once, and a body that streams past it (chunked, or lying about its length) is cut off
  with 413 as soon as it does.
- **JSON bodies** of routes that take one are parsed strictly before FastAPI sees them: bad
  syntax, text that is not Unicode (lone surrogates), NUL characters (PostgreSQL refuses them),
  `NaN`/`Infinity`, numbers no 64-bit column can hold and nesting deeper than
  `MAX_JSON_DEPTH` answer 422 in FastAPI's shape (`json_invalid`), never 500.
- **Last resort**: an unexpected exception is logged by class only (no message, no traceback:
  both can carry values) and answered `500 {"detail": "internal error"}`.
- **Audit**: every request authenticated as staff or as a practice is logged as one `audit`
  line: the caller's kind and name (principal), its user (the person at a practice; for an env
  token, the principal), the method, the route template (never the raw path: paths carry NHS
  numbers), the status, and what the route added with `ensemble_runtime.audit.audit_detail`
  (an action and counts).

`guard(app, max_body_bytes, tracing=...)` installs all of it (with the correlation id, span
and metrics of http_edge.py); `create_app` calls it for every service.
"""

import email.message
import json
import math
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any, Final

import structlog
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ensemble_runtime import auth
from ensemble_runtime.audit import AuditDetails, collecting_details
from ensemble_runtime.http_edge import HttpEdge
from ensemble_runtime.tracing import Tracing

DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
MAX_JSON_DEPTH: Final = 64
MAX_JSON_INT: Final = 2**63 - 1  # what a BIGINT (PostgreSQL) or INTEGER (SQLite) can hold
MIN_JSON_INT: Final = -(2**63)
MAX_ERROR_TEXT: Final = 200  # characters of a validation message or location part
# Callers whose every request is one audit line: staff, and practices reading patient alerts.
AUDITED_KINDS: Final = frozenset({"staff", "practice"})


def _log() -> Any:
    return structlog.get_logger(__name__)  # looked up per use: follows the logging config


def _audit_log() -> Any:
    return structlog.get_logger("audit")


# --- strict JSON --------------------------------------------------------------------------------


class MalformedJson(ValueError):
    """A JSON body the services will not take; the message says why, never with a value."""


def _refuse_constant(_name: str) -> Any:
    raise MalformedJson("NaN and Infinity are not JSON numbers")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # before int(): a 100,000-digit number costs time
        raise MalformedJson("an integer is out of the 64-bit range")
    value = int(text)
    if not MIN_JSON_INT <= value <= MAX_JSON_INT:
        raise MalformedJson("an integer is out of the 64-bit range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJson("a number is out of range")
    return value


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise MalformedJson("a string holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedJson("a string holds a lone surrogate (not Unicode text)") from None


def parse_json(body: bytes | str) -> Any:
    """The JSON value of `body`, or MalformedJson saying what is wrong with it."""
    try:
        value = json.loads(
            body,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except MalformedJson:
        raise
    except RecursionError:
        raise MalformedJson(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise MalformedJson("the body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise MalformedJson(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except ValueError:
        raise MalformedJson("not valid JSON") from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Depth, keys and strings of a parsed value (iteratively: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise MalformedJson(f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


# --- routes: which callers they need -----------------------------------------------------------


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def caller_kind(call: Any) -> str | None:
    """The kind of caller a dependency from `ensemble_runtime.auth.caller(kind)` asks for."""
    return auth.kind_of(call)


def caller_kinds(route: BaseRoute | None) -> frozenset[str]:
    """Every caller kind a route authenticates (through any depth of dependencies)."""
    if not isinstance(route, APIRoute):
        return frozenset()
    # Kept on the route: walking its dependencies on every request showed in profiles.
    kinds: frozenset[str] | None = getattr(route, "_ensemble_caller_kinds", None)
    if kinds is None:
        found = (caller_kind(d.call) for d in _dependants(route.dependant))
        kinds = frozenset(kind for kind in found if kind is not None)
        route._ensemble_caller_kinds = kinds  # type: ignore[attr-defined]
    return kinds


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def principals(
    scope: MutableMapping[str, Any], headers: Headers, kinds: frozenset[str]
) -> dict[str, auth.Caller] | None:
    """The caller for every one of `kinds`, or None unless all of them accept the token
    (`auth.authenticate`: env tokens, then the service's store; asked once per request)."""
    token = _bearer(headers)
    found: dict[str, auth.Caller] = {}
    for kind in sorted(kinds):
        caller = await auth.authenticate(scope, kind, token) if token else None
        if caller is None:
            return None
        found[kind] = caller
    return found


class Refused(HTTPException):
    """A refusal the guard raises where FastAPI reads the body (it passes HTTPExceptions on)."""


async def authentication_failure(
    scope: MutableMapping[str, Any], headers: Headers
) -> Refused | None:
    """The 401 the route's own `caller` dependency would give this request, if any."""
    kinds = caller_kinds(scope.get("route"))
    if not kinds or await principals(scope, headers, kinds) is not None:
        return None
    detail = "missing bearer token" if _bearer(headers) is None else "unknown token"
    return Refused(401, detail, headers={"WWW-Authenticate": "Bearer"})


# --- responses ---------------------------------------------------------------------------------


class SafeJSONResponse(JSONResponse):
    """JSON that renders whatever it holds: non-ASCII escaped (a lone surrogate cannot break
    the encoding), and no NaN."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


def _short(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    return text if len(text) <= MAX_ERROR_TEXT else text[:MAX_ERROR_TEXT] + "..."


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors as type, location and message: never the input or its context."""
    return [
        {
            "type": _short(error.get("type", "value_error")),
            "loc": [_short(part) for part in error.get("loc", ())],
            "msg": _short(error.get("msg", "")),
        }
        for error in errors
    ]


async def validation_failed(request: Request, error: Exception) -> Response:
    """422 for a caller the route accepts; the route's 401 for anyone else."""
    failure = await authentication_failure(request.scope, request.headers)
    if failure is not None:
        return SafeJSONResponse(
            {"detail": failure.detail}, failure.status_code, headers=failure.headers
        )
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    return SafeJSONResponse({"detail": safe_errors(errors)}, status_code=422)


async def unexpected_error(request: Request, error: Exception) -> Response:
    """Backstop behind the middleware: the class of the error only, and a bare 500."""
    _log().error("unhandled error", error_type=type(error).__name__, method=request.method)
    return SafeJSONResponse({"detail": "internal error"}, status_code=500)


# --- the middleware ----------------------------------------------------------------------------


def _takes_json(route: BaseRoute | None, headers: Headers) -> bool:
    """Whether FastAPI would parse this request's body as JSON for the route (as it decides)."""
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    if isinstance(route.body_field.field_info, Form):
        return False
    content_type = headers.get("content-type")
    if not content_type:
        strict = getattr(route, "strict_content_type", True)
        return not (strict.value if isinstance(strict, DefaultPlaceholder) else strict)
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    return route.path_format if isinstance(route, APIRoute) else None


def declared_length(headers: Headers) -> int | None:
    """The Content-Length as a number (None when absent or not a plain decimal number)."""
    value = headers.get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()):
        return None  # e.g. "²", which isdigit() but int() refuses
    return int(value) if len(value) <= 18 else 10**18  # no 5,000-digit int() per request


class HttpGuard:
    """Auth-first refusals, body cap, strict JSON, last resort, audit: run by `HttpEdge`
    (http_edge.py) around the app for every HTTP request.

    Nothing of the body is read until the route asks for it. By then the router has chosen the
    route (`scope["route"]`), so the first read can check, in this order: the caller the
    route needs (401: an unauthenticated sender has not a byte read), the declared length, the
    streamed length (413), and the JSON rules for routes FastAPI parses a JSON body for (422).
    A refusal is raised as an HTTPException where the body is read; FastAPI answers it.
    """

    def __init__(
        self,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        audited_kinds: frozenset[str] = AUDITED_KINDS,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.audited_kinds = audited_kinds

    async def serve(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, status: list[int]
    ) -> None:
        """Run `app` on one HTTP request; `status` holds the status the answer started with
        (kept by the caller's `send`), so the last resort knows whether one has."""
        first = True

        async def guarded() -> Message:
            nonlocal first
            if not first:
                return await receive()
            first = False
            return await self._first_read(scope, receive)

        with collecting_details() as details:
            try:
                await app(scope, guarded, send)
            except ClientDisconnect:
                pass  # nobody is waiting for an answer
            except Exception as error:
                # Class only: an error's text or traceback can carry SQL parameters or input.
                _log().error(
                    "unhandled error",
                    error_type=type(error).__name__,
                    method=scope.get("method"),
                    route=_route_template(scope),
                )
                if not status:
                    await SafeJSONResponse({"detail": "internal error"}, status_code=500)(
                        scope, receive, send
                    )
        await self._audit(scope, status, details)

    async def _first_read(self, scope: Scope, receive: Receive) -> Message:
        route = scope.get("route")
        headers = Headers(scope=scope)  # here, not per request: most requests have no body
        failure = await authentication_failure(scope, headers)
        if failure is not None:
            raise failure
        declared = declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # a disconnect: the app sees it as it would have
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _takes_json(route, headers):
            try:
                parse_json(body)
            except MalformedJson as error:
                detail = [{"type": "json_invalid", "loc": ["body"], "msg": str(error)}]
                raise Refused(422, detail) from None
        return {"type": "http.request", "body": body, "more_body": False}

    def _too_large(self) -> Refused:
        return Refused(
            413,
            f"request body larger than {self.max_body_bytes} bytes",
            headers={"Connection": "close"},
        )

    async def _audit(self, scope: Scope, status: list[int], details: AuditDetails) -> None:
        """One line per audited caller of the request, with the route's own details."""
        kinds = caller_kinds(scope.get("route")) & self.audited_kinds
        # The memo answers (the route asked the same).
        callers = await principals(scope, Headers(scope=scope), kinds) if kinds else None
        # Callers signed in another way (a page's session) are audited alike.
        declared = auth.declared_callers(scope)
        callers = (callers or {}) | {k: c for k, c in declared.items() if k in self.audited_kinds}
        for kind, caller in sorted(callers.items()):
            _audit_log().info(
                "audit",
                principal_kind=kind,
                principal=caller.principal,
                user=caller.user,
                method=scope.get("method"),
                route=_route_template(scope),
                status=status[0] if status else None,
                **details.fields(),
            )


def guard(
    app: FastAPI,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    audited_kinds: frozenset[str] = AUDITED_KINDS,
    tracing: Tracing | None = None,
) -> None:
    """Put every service's HTTP rules in front of `app` (see the module docstring), in the
    one middleware that also gives each request its correlation id, span and metrics."""
    app.add_middleware(HttpEdge, guard=HttpGuard(max_body_bytes, audited_kinds), tracing=tracing)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(Exception, unexpected_error)


# --- a check for route declarations ------------------------------------------------------------


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    arguments = getattr(annotation, "__args__", ())
    return int in arguments and bool not in arguments


def unbounded_int_params(routers: Iterable[APIRouter]) -> list[str]:
    """Path and query parameters typed `int` without both bounds: a huge value would reach
    the store (SQLite's driver overflows past 2**63, PostgreSQL's INTEGER past 2**31)."""
    found = []
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute):
            continue
        for dependant in _dependants(route.dependant):
            for param in [*dependant.path_params, *dependant.query_params]:
                if not _is_int(param.field_info.annotation):
                    continue
                bounds = {type(m).__name__ for m in param.field_info.metadata}
                if not ({"Ge", "Gt"} & bounds and {"Le", "Lt"} & bounds):
                    methods = ",".join(sorted(route.methods or ()))
                    found.append(f"{methods} {route.path}: {param.alias}")
    return found
