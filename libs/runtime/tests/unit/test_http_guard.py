"""The HTTP guard: body cap, strict JSON, auth before validation, bare 500s, audit."""

import json
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field

from ensemble_devkit.testkit import token, tokens
from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import OwnPractice, Staff, TokenRegistry, parse_token_map
from ensemble_runtime.http_guard import (
    MAX_JSON_DEPTH,
    MalformedJson,
    guard,
    parse_json,
    unbounded_int_params,
)

from ..support import Kit, definition, kit_fixture

NHS = "9990000018"
CAP = 256 * 1024  # above every malformed sample below


class Item(BaseModel):
    name: str = Field(max_length=50)
    count: int = Field(ge=0, le=1000)


router = APIRouter()


@router.post("/items")
def post_items(items: list[Item], staff: Staff) -> dict[str, Any]:
    return {"count": len(items), "staff": staff}


@router.post("/open")
def post_open(items: list[Item]) -> dict[str, Any]:
    return {"count": len(items)}


@router.get("/patients/{nhs_number}/things")
def staff_read(
    nhs_number: str, staff: Staff, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict[str, Any]:
    # A sync route runs in a worker thread: its details must still reach the audit line.
    audit_detail(action="things.list", things=limit, by_patient=True)
    return {"limit": limit}


@router.get("/practices/{ods}/things")
def practice_things(
    ods: OwnPractice, after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0
) -> dict[str, Any]:
    return {"ods": ods, "after": after}


@router.get("/boom")
def boom(staff: Staff) -> dict[str, Any]:
    audit_detail(action="boom")
    raise RuntimeError(f"secret value {NHS}")


@router.post("/raw")
async def raw(request: Request, staff: Staff) -> dict[str, Any]:
    size = len(await request.body())
    audit_detail(action="raw.post")
    audit_detail(size=size)  # a later call adds to the same line
    return {"bytes": size}


def guarded_app(max_body_bytes: int = CAP) -> FastAPI:
    """The test routes behind the guard, with one staff member and two practices."""
    app = FastAPI()
    app.state.runtime = SimpleNamespace(
        callers={
            "staff": TokenRegistry(parse_token_map(tokens("staff", "ops"))),
            "practice": TokenRegistry(parse_token_map(tokens("practice", "L85001", "L85002"))),
        }
    )
    app.include_router(router)
    guard(app, max_body_bytes)
    return app


def client(app: FastAPI, kind: str | None = None, principal: str | None = None) -> Any:
    headers = {}
    if kind and principal:
        headers["Authorization"] = f"Bearer {token(kind, principal)}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://guarded", headers=headers
    )


@pytest.fixture
async def staff() -> AsyncIterator[httpx.AsyncClient]:
    async with client(guarded_app(), "staff", "ops") as http:
        yield http


@pytest.fixture
async def anonymous() -> AsyncIterator[httpx.AsyncClient]:
    async with client(guarded_app()) as http:
        yield http


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


JSON = {"Content-Type": "application/json"}
GOOD = b'[{"name": "a", "count": 1}]'
MALFORMED: dict[str, bytes] = {
    "syntax": b'[{"name": "a", "count": 1}',
    "trailing-comma": b'[{"name": "a", "count": 1},]',
    "lone-surrogate-escape": b'[{"name": "\\ud800", "count": 1}]',
    "lone-surrogate-key": b'[{"\\udfff": 1, "name": "a", "count": 1}]',
    "utf8-encoded-surrogate": b'[{"name": "\xed\xa0\x80", "count": 1}]',
    "not-utf8": b'[{"name": "\xff\xfe", "count": 1}]',
    "nul": b'[{"name": "a\\u0000b", "count": 1}]',
    "nan": b'[{"name": "a", "count": NaN}]',
    "infinity": b'[{"name": "a", "count": Infinity}]',
    "minus-infinity": b'[{"name": "a", "count": -Infinity}]',
    "float-overflow": b'[{"name": "a", "count": 1e400}]',
    "int-2**63": f'[{{"name": "a", "count": {2**63}}}]'.encode(),
    "int-below-min": f'[{{"name": "a", "count": {-(2**63) - 1}}}]'.encode(),
    "int-5000-digits": b'[{"name": "a", "count": ' + b"9" * 5000 + b"}]",
    "deep-65": b"[" * 65 + b"]" * 65,
    "deep-100000": b"[" * 100_000 + b"]" * 100_000,
    "deep-objects": b'{"a":' * 70 + b"1" + b"}" * 70,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_json_body_is_422_for_an_authenticated_caller(
    staff: httpx.AsyncClient, body: bytes
) -> None:
    response = await staff.post("/items", content=body, headers=JSON)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"] == ["body"]


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token-at-all", "Basic x"])
async def test_a_malformed_json_body_without_a_token_is_401(
    anonymous: httpx.AsyncClient, body: bytes, authorization: str | None
) -> None:
    headers = {**JSON, **({"Authorization": authorization} if authorization else {})}
    response = await anonymous.post("/items", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "json" not in response.text.lower()


async def test_a_practice_token_is_no_staff_token(anonymous: httpx.AsyncClient) -> None:
    practice = {"Authorization": f"Bearer {token('practice', 'L85001')}", **JSON}
    bad = await anonymous.post("/items", content=b"{", headers=practice)
    assert (bad.status_code, bad.json()) == (401, {"detail": "unknown token"})


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_route_without_callers_answers_malformed_json_with_422(
    anonymous: httpx.AsyncClient, body: bytes
) -> None:
    response = await anonymous.post("/open", content=body, headers=JSON)
    assert response.status_code == 422


async def test_good_json_and_json_flavoured_content_types_pass(staff: httpx.AsyncClient) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "x/y+json"):
        response = await staff.post("/items", content=GOOD, headers={"Content-Type": content_type})
        if content_type == "x/y+json":  # not application/*: FastAPI does not parse it
            assert response.status_code == 422
            continue
        assert response.json() == {"count": 1, "staff": "ops"}
    extremes = [2**63 - 1, -(2**63), 1.5e300]
    limits = f'[{{"name": "\\ud83d\\ude00 ok", "count": 0, "extra": {extremes}}}]'
    assert (await staff.post("/items", content=limits, headers=JSON)).status_code == 200


def test_the_json_rules_at_their_edges() -> None:
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None
    with pytest.raises(MalformedJson, match="nested deeper"):
        parse_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert parse_json(f"[{2**63 - 1}, {-(2**63)}]") == [2**63 - 1, -(2**63)]
    assert parse_json('"\\ud83d\\ude00"') == "\U0001f600"  # a surrogate pair is one character
    assert parse_json(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 BOM, as FastAPI accepts
    for text, reason in [
        ("[NaN]", "NaN"),
        ('"\\udc00"', "lone surrogate"),
        ('{"\\u0000": 1}', "NUL"),
        (f"[{2**63}]", "64-bit"),
        ("[1e999]", "out of range"),
        ("[1,]", "not valid JSON"),
    ]:
        with pytest.raises(MalformedJson, match=reason):
            parse_json(text)


async def test_raw_body_routes_read_what_was_sent(staff: httpx.AsyncClient) -> None:
    """Only routes FastAPI parses JSON for get the JSON rules; others read their bytes."""
    response = await staff.post("/raw", content=b"{not json\x00\xff", headers=JSON)
    assert response.json() == {"bytes": 11}


async def test_a_body_over_the_cap_is_413_once_the_caller_is_known(
    anonymous: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    big = b"[" + b'{"name": "a", "count": 1},' * 20_000 + b"]"
    assert len(big) > CAP
    denied = await anonymous.post("/items", content=big, headers=JSON)
    assert denied.status_code == 401  # who asks comes first
    for http, path in ((staff, "/items"), (staff, "/raw"), (anonymous, "/open")):
        response = await http.post(path, content=big, headers=JSON)
        assert response.status_code == 413
        assert response.json() == {"detail": f"request body larger than {CAP} bytes"}
    at_cap = await staff.post("/raw", content=b"x" * CAP)
    assert at_cap.json() == {"bytes": CAP}


async def test_not_a_byte_is_read_from_an_unauthenticated_caller(
    anonymous: httpx.AsyncClient,
) -> None:
    pulled: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for n in range(3):
            pulled.append(n)
            yield b"x" * 1024

    for path in ("/raw", "/items"):
        response = await anonymous.post(path, content=body(), headers=JSON)
        assert response.status_code == 401
    assert pulled == []


async def test_a_streamed_body_is_cut_off_at_the_cap(staff: httpx.AsyncClient) -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(100):
            pulled.append(n)
            yield b"x" * 10_000

    response = await staff.post("/raw", content=chunks())  # chunked: no Content-Length
    assert response.status_code == 413
    assert len(pulled) < 100  # the rest is never read


@pytest.mark.parametrize(
    "declared",
    [b"10", b"\xb2", b"1" * 5000, b"-5", b"12abc", b""],
    ids=["lie", "superscript-two", "5000-digits", "negative", "suffix", "empty"],
)
async def test_a_declared_length_is_no_way_around_the_cap(
    staff: httpx.AsyncClient, declared: bytes
) -> None:
    """ "\u00b2" is a digit to str.isdigit(), not to int(); none of these is a 500."""
    headers = [(b"content-length", declared)]
    request = staff.build_request("POST", "/raw", content=b"x" * (CAP + 1), headers=headers)
    assert request.headers.raw[-1] == (b"content-length", declared)
    assert (await staff.send(request)).status_code == 413
    small = staff.build_request("POST", "/raw", content=b"x" * 10, headers=headers)
    expected = 413 if declared == b"1" * 5000 else 200
    assert (await staff.send(small)).status_code == expected


async def test_validation_details_are_for_authenticated_callers_only(
    anonymous: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    wrong = json.dumps([{"name": f"patient {NHS} " * 10, "count": -1}])
    denied = await anonymous.post("/items", content=wrong, headers=JSON)
    assert (denied.status_code, denied.json()) == (401, {"detail": "missing bearer token"})

    refused = await staff.post("/items", content=wrong, headers=JSON)
    assert refused.status_code == 422
    errors = refused.json()["detail"]
    assert {tuple(e["loc"]) for e in errors} == {("body", 0, "name"), ("body", 0, "count")}
    assert all(set(e) == {"type", "loc", "msg"} for e in errors)  # no input, no context
    assert NHS not in refused.text


async def test_huge_query_integers_are_422_and_never_reach_the_route(
    anonymous: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    for value in (str(10**30), str(-(10**30)), "9" * 5000, "1e3", "NaN"):
        refused = await staff.get(f"/patients/{NHS}/things", params={"limit": value})
        assert refused.status_code == 422
        assert value not in refused.text
        denied = await anonymous.get(f"/patients/{NHS}/things", params={"limit": value})
        assert denied.status_code == 401
    async with client(guarded_app(), "practice", "L85001") as practice:
        response = await practice.get("/practices/L85001/things", params={"after": 2**70})
        assert response.status_code == 422
        other = await practice.get("/practices/L85002/things", params={"after": 2**70})
        assert other.status_code == 403  # the route's own rules come before its parameters


async def test_an_unexpected_error_is_a_bare_500_logged_by_class(
    staff: httpx.AsyncClient, logs: list[dict[str, Any]]
) -> None:
    response = await staff.get("/boom")
    assert (response.status_code, response.json()) == (500, {"detail": "internal error"})
    [error] = [line for line in logs if line["event"] == "unhandled error"]
    assert error["error_type"] == "RuntimeError"
    assert error["route"] == "/boom"
    assert NHS not in json.dumps(logs)
    assert "secret" not in json.dumps(logs)


async def test_each_staff_request_is_one_audit_line_with_the_route_s_details(
    staff: httpx.AsyncClient, anonymous: httpx.AsyncClient, logs: list[dict[str, Any]]
) -> None:
    await staff.get(f"/patients/{NHS}/things", params={"limit": 3})
    await staff.get(f"/patients/{NHS}/things", params={"limit": 0})  # 422: the route never ran
    await staff.post("/items", content=b"{", headers=JSON)
    await staff.post("/raw", content=b"12345")
    await staff.get("/boom")
    await anonymous.get(f"/patients/{NHS}/things")  # not authenticated: not audited
    async with client(guarded_app(), "practice", "L85001") as practice:
        await practice.get("/practices/L85001/things")  # a practice line, not a staff one

    who = {"event": "audit", "log_level": "info", "principal_kind": "staff", "principal": "ops"}
    who |= {"user": "ops"}  # an env token's user is its principal
    things = "/patients/{nhs_number}/things"
    staff_lines = [line for line in logs if line.get("principal_kind") == "staff"]
    assert staff_lines == [
        who
        | {"method": "GET", "route": things, "status": 200}
        | {"action": "things.list", "things": 3, "by_patient": 1},
        who | {"method": "GET", "route": things, "status": 422},
        who | {"method": "POST", "route": "/items", "status": 422},
        who | {"method": "POST", "route": "/raw", "status": 200, "action": "raw.post", "size": 5},
        who | {"method": "GET", "route": "/boom", "status": 500, "action": "boom"},
    ]
    assert NHS not in json.dumps(logs)


def test_unbounded_int_parameters_are_found() -> None:
    loose = APIRouter()

    @loose.get("/a/{item_id}")
    def a(
        item_id: int,
        after: Annotated[int, Query(ge=0)] = 0,
        maybe: int | None = None,
        bounded: Annotated[int, Query(ge=0, le=10)] = 0,
        flag: bool = False,
        name: str = "",
    ) -> None:
        """Unbounded: item_id, after, maybe."""

    assert sorted(unbounded_int_params([loose])) == [
        "GET /a/{item_id}: after",
        "GET /a/{item_id}: item_id",
        "GET /a/{item_id}: maybe",
    ]
    assert unbounded_int_params([router]) == []


# --- through a service: create_app puts the guard in front of every service -------------------


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_fixture(
        definition(routers=[router]),
        f"sqlite:///{tmp_path}/s.db",
        staff_tokens=tokens("staff", "ops"),
    )


async def test_every_service_app_is_guarded(
    kit: Kit,
) -> None:
    async with kit.client() as anonymous:
        assert (await anonymous.post("/items", content=b"[NaN]", headers=JSON)).status_code == 401
        too_big = await anonymous.post("/raw", content=b"x" * (1024 * 1024 + 1))
        assert too_big.status_code == 401
    async with kit.client("staff", "ops") as staff:
        assert (await staff.post("/items", content=b"[NaN]", headers=JSON)).status_code == 422
        assert (await staff.post("/raw", content=b"x" * 1024 * 1024)).status_code == 200
        too_big = await staff.post("/raw", content=b"x" * (1024 * 1024 + 1))
        assert too_big.status_code == 413
        assert (await staff.get("/boom")).status_code == 500
        assert (await staff.get("/healthz")).json() == {"status": "ok"}


async def test_each_practice_request_is_one_audit_line_with_route_templates_only(
    logs: list[dict[str, Any]],
) -> None:
    async with client(guarded_app(), "practice", "L85001") as practice:
        await practice.get("/practices/L85001/things", params={"after": 5})
        await practice.get("/practices/L85002/things")  # another practice's: 403, still audited
        await practice.get(f"/patients/{NHS}/things")  # a staff route: 401, no caller to audit
    async with client(guarded_app()) as anonymous:
        await anonymous.get("/practices/L85001/things")  # no token: nobody to audit

    who = {"event": "audit", "log_level": "info", "principal_kind": "practice"}
    who |= {"principal": "L85001", "user": "L85001", "method": "GET"}
    route = "/practices/{ods}/things"
    assert [line for line in logs if line["event"] == "audit"] == [
        who | {"route": route, "status": 200},
        who | {"route": route, "status": 403},
    ]
    assert NHS not in json.dumps(logs)
    assert "L85002" not in json.dumps(logs)  # the path's value is not logged, only the template
