"""Every route of every service, with any body, parameters and token: never a 5xx, and a
caller without a token the route accepts gets 401, whatever else is wrong with the request.

Routes, their parameters and body types are read from each definition's app, so a new route
is fuzzed as soon as it exists.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Route

from ensemble_devkit.service_map import load_definitions
from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.definition import ServiceDefinition
from ensemble_runtime.http_guard import caller_kinds

from .report import CRASH, SERVER_ERROR, Stats
from .strategies import (
    UUID_POOL,
    dump_json,
    for_annotation,
    hl7_messages,
    hostile_text,
    json_values,
    raw_json_bodies,
)
from .support import CALLERS, NHS_POOL, Loop, bearer, fuzz_settings, fuzz_target, timeout_for

DEFINITIONS = load_definitions()
NOT_READY_IS_503 = "/readyz"  # the runtime is not started in-process: readiness says so
CONTENT_TYPES = (
    "application/json",
    "application/json",
    "application/json",
    None,
    "text/plain",
    "text/csv",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-16",
    "application/problem+json",
    "application/hl7-v2",
    "multipart/form-data; boundary=x",
)
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass
class Call:
    method: str
    path: str
    params: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]
    auth: tuple[str, str] | None  # (kind, principal) of a valid token, if one is sent
    route: APIRoute | Route = field(repr=False)

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return (
            f"{self.method} {self.path} params={self.params!r} headers={self.headers!r} "
            f"body={body!r} ({len(self.body)} bytes)"
        )


def routes_of(kit: ServiceKit[Any, Any]) -> list[APIRoute | Route]:
    """The app's own routes (ops, docs) and every route of the definition's routers, bar
    Server-Sent Events streams: an endless response is not a request and its answer (they
    have tests of their own: hospital-feed's test_alert_stream.py and tests/e2e)."""
    own = [r for r in kit.service.app.routes if isinstance(r, APIRoute | Route)]
    return own + [
        r
        for router in kit.definition.routers
        for r in router.routes
        if isinstance(r, APIRoute) and not r.path.endswith("/stream")
    ]


def params_of(route: APIRoute | Route, where: str) -> list[tuple[str, Any]]:
    if not isinstance(route, APIRoute):
        return [(name, str) for name in _PARAM.findall(route.path)] if where == "path" else []
    found: list[tuple[str, Any]] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        stack.extend(dependant.dependencies)
        for param in dependant.path_params if where == "path" else dependant.query_params:
            found.append((param.alias, param.field_info.annotation))
    return found


def as_query_values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [v for item in value for v in as_query_values(item)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, dict):
        return [json.dumps(value)]
    return [str(value)]


def as_path_value(value: Any) -> str:
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def encoded(text: str) -> str:
    """Percent-encoded as a careless client would: lone surrogates as their UTF-8-ish bytes."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def query_string(params: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in params).encode("ascii")


@dataclass(frozen=True)
class RouteShape:
    """What to draw for one route: its parameters' and body's strategies."""

    route: APIRoute | Route
    path_params: list[tuple[str, st.SearchStrategy[Any]]]
    query_params: list[tuple[str, st.SearchStrategy[Any]]]
    body: st.SearchStrategy[bytes] | None


def shape_of(
    route: APIRoute | Route, ids: list[str], nhs_numbers: Sequence[str] = NHS_POOL
) -> RouteShape:
    aimed = st.sampled_from([*ids, *map(str, UUID_POOL), *CALLERS["practice"], *nhs_numbers])

    def value(annotation: Any, name: str) -> st.SearchStrategy[Any]:
        return for_annotation(annotation, name, (), nhs_numbers)

    path = [(n, st.one_of(value(a, n), aimed)) for n, a in params_of(route, "path")]
    query = [(n, value(a, n)) for n, a in params_of(route, "query")]
    body_field = route.body_field if isinstance(route, APIRoute) else None
    body = None
    if body_field is not None:
        declared = value(body_field.field_info.annotation, "")
        body = st.one_of(
            st.builds(dump_json, declared, st.booleans()),
            st.builds(dump_json, declared, st.booleans()),
            st.builds(dump_json, json_values(), st.booleans()),
            raw_json_bodies(),
        )
    return RouteShape(route, path, query, body)


ANY_BODY = st.one_of(
    st.just(b""),
    raw_json_bodies(),
    hl7_messages(),
    st.builds(dump_json, json_values(), st.booleans()),
)
GARBAGE_TOKENS = st.sampled_from(["x" * 40, "staff-staff-test-tokeN", "Bearer", "%C3%A9" * 20])
BAD_AUTHORIZATION = st.sampled_from(["Bearer", "Basic c3RhZmY6c3RhZmY=", "bearer ", "Bearer a"])
EXTRA_PARAMS = st.lists(st.tuples(hostile_text(50), hostile_text(500)), max_size=3)


@st.composite
def calls(draw: st.DrawFn, shapes: list[RouteShape], kinds: list[str]) -> Call:
    shape = draw(st.sampled_from(shapes))
    route = shape.route
    method = draw(st.sampled_from(sorted((route.methods or {"GET"}) - {"HEAD"})))
    path = route.path
    for name, strategy in shape.path_params:
        value = encoded(as_path_value(draw(strategy)))
        path = path.replace("{" + name + "}", value)
    params: list[tuple[str, str]] = []
    for name, strategy in shape.query_params:
        if draw(st.booleans()):
            params += [(name, v) for v in as_query_values(draw(strategy))]
    if draw(st.integers(0, 9)) == 9:
        params += draw(EXTRA_PARAMS)
    if shape.body is not None:
        body = draw(shape.body)
    elif method == "POST" or draw(st.integers(0, 9)) == 9:
        body = draw(ANY_BODY)
    else:
        body = b""
    headers: dict[str, str] = {}
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if content_type is not None:
        headers["content-type"] = content_type
    valid = [(kind, principal) for kind in kinds for principal in CALLERS[kind]]
    choice = draw(st.sampled_from([*valid * 3, None, ("garbage", ""), ("bad", "")]))
    auth: tuple[str, str] | None = None
    if choice == ("garbage", ""):
        headers["Authorization"] = "Bearer " + draw(GARBAGE_TOKENS)
    elif choice == ("bad", ""):
        headers["Authorization"] = draw(BAD_AUTHORIZATION)
    elif choice is not None:
        headers |= bearer(*choice)
        auth = choice
    return Call(method, path, params, body, headers, auth, route)


def matched_route(
    routes: list[APIRoute | Route], method: str, path: str
) -> APIRoute | Route | None:
    """The route FastAPI will run for this method and (decoded) path, if any."""
    for route in routes:
        if route.path_regex.match(path) and method in (route.methods or ()):
            return route
    return None


def seed(kit: ServiceKit[Any, Any], loop: Loop, nhs_numbers: Sequence[str] = NHS_POOL) -> list[str]:
    """A little state, so that routes find something: returns ids to aim at."""
    ids: list[str] = []

    async def run() -> None:
        staff = bearer("staff", "staff")
        async with kit.client() as http:
            if kit.definition.name == "hospital-feed":
                for body in (b"MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|C9|P|2.4\r",):
                    response = await http.post(
                        "/v1/hl7v2", content=body, headers=bearer("sender", "RCB")
                    )
                    assert response.status_code == 200, response.text
            if kit.definition.name == "referral":
                response = await http.post(
                    "/v1/referrals",
                    json={"nhs_number": nhs_numbers[0], "service": "health_coaching"},
                    headers=bearer("practice", "L85001"),
                )
                # 200: one is open already, and this request was merged into it.
                assert response.status_code in (200, 201), response.text
                ids.append(response.json()["referral_id"])
            if kit.definition.name == "scheduling":
                coach = {
                    "coach_id": "c1",
                    "display_name": "Coach One",
                    "languages": ["en", "pa"],
                    "timezone": "Europe/London",
                    "weekly_hours": {"mon": [["09:00", "17:00"]]},
                }
                response = await http.post("/v1/coaches", json=[coach], headers=staff)
                assert response.status_code == 200, response.text
            if kit.definition.name == "scoring":
                line = json.dumps({"nhs_number": nhs_numbers[0], "practice_ods": "L85001"})
                response = await http.post("/v1/profiles", content=line, headers=staff)
                assert response.status_code == 200, response.text

    loop.run(run())
    return ids


def fuzz_routes(
    kit: ServiceKit[Any, Any],
    loop: Loop,
    stats: Stats,
    nhs_numbers: Sequence[str] = NHS_POOL,
    examples: int | None = None,
) -> None:
    """Call generated requests on every route of the kit's service; check each answer."""
    routes = routes_of(kit)
    fields = type(kit.settings).model_fields
    kinds = sorted(k.removesuffix("_tokens") for k in fields if k.endswith("_tokens"))
    ids = seed(kit, loop, nhs_numbers)
    client = kit.client()

    @fuzz_settings(examples)
    @given(call=calls([shape_of(route, ids, nhs_numbers) for route in routes], kinds))
    def case(call: Call) -> None:
        url = httpx.URL(call.path, query=query_string(call.params))
        request = client.build_request(call.method, url, content=call.body, headers=call.headers)
        with stats.case(call):
            try:
                response = loop.run(client.send(request))
            except Exception as error:  # the app raised through the guard
                stats.violation(CRASH, f"{type(error).__name__}: {error}"[:300], call)
                return
        status = response.status_code
        route = matched_route(routes, call.method, unquote(request.url.path))
        template = route.path if route is not None else "(no route)"
        not_ready = status == 503 and template == NOT_READY_IS_503
        stats.note(
            "HTTP 503 from /readyz (not started)" if not_ready else f"HTTP {status // 100}xx"
        )
        if status >= 500 and not not_ready:
            stats.violation(SERVER_ERROR, f"{call.method} {template}: HTTP {status}", call)
            return
        kinds_needed = caller_kinds(route) if isinstance(route, APIRoute) else frozenset()
        authenticated = call.auth is not None and kinds_needed <= {call.auth[0]}
        if kinds_needed and not authenticated and status != 401:
            detail = (
                f"{call.method} {template} without a {'/'.join(kinds_needed)} token: HTTP {status}"
            )
            stats.violation("auth", detail, call)
        if 400 <= status < 500 and any(n in response.text for n in nhs_numbers):
            stats.violation(
                "echo", f"{call.method} {template}: HTTP {status} echoes an NHS number", call
            )

    try:
        case()
    finally:
        loop.run(client.aclose())


@pytest.mark.parametrize("definition", DEFINITIONS, ids=[d.name for d in DEFINITIONS])
@timeout_for()
def test_no_route_answers_5xx_and_strangers_get_401(
    definition: ServiceDefinition[Any, Any], database_url: str, loop: Loop
) -> None:
    with fuzz_target(f"json-routes-{definition.name}", definition, database_url) as (kit, stats):
        fuzz_routes(kit, loop, stats)
