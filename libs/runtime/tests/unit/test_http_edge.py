"""The one middleware of every service app: correlation ids, metrics and the guard together;
routes that check their caller themselves; FastAPI's own telemetry kept off."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI, Request
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.auth import authenticates, principal_for_request
from ensemble_runtime.correlation import parse_correlation_id
from ensemble_runtime.http_edge import HttpEdge
from ensemble_runtime.http_guard import caller_kinds
from ensemble_runtime.http_tracing import new_correlation_id

from ..support import Kit, definition, kit_fixture
from .test_http_guard import CAP, client, guarded_app

router = APIRouter()


@router.post("/checked")
@authenticates("staff")
async def checked(request: Request) -> dict[str, Any]:
    staff = await principal_for_request(request, "staff")
    audit_detail(action="checked.post")
    return {"staff": staff, "bytes": len(await request.body())}


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_fixture(definition(routers=[router]), f"sqlite:///{tmp_path}/e.db")


def test_a_service_app_has_one_middleware_of_its_own(kit: Kit) -> None:
    classes: list[object] = [m.cls for m in kit.service.app.user_middleware]
    assert classes == [HttpEdge]


def requests(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("ensemble_http_requests_total", labels) or 0.0


async def test_the_guard_s_500_is_counted_and_carries_the_correlation_id() -> None:
    before = requests("/boom", "500")
    async with client(guarded_app(), "staff", "ops") as staff:
        response = await staff.get("/boom")
    assert (response.status_code, response.json()) == (500, {"detail": "internal error"})
    assert parse_correlation_id(response.headers["x-correlation-id"]) is not None
    assert requests("/boom", "500") == before + 1


def test_new_correlation_ids_are_version_4_uuids_and_unique() -> None:
    ids = [new_correlation_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert {(i.version, i.variant) for i in ids} == {(4, "specified in RFC 4122")}
    assert all(parse_correlation_id(str(i)) == i for i in ids[:100])


def test_a_forked_process_draws_other_correlation_ids() -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id, then out at once (no pytest teardown)
        os.write(write, new_correlation_id().bytes)
        os._exit(0)
    os.close(write)
    theirs = UUID(bytes=os.read(read, 16))
    os.close(read)
    os.waitpid(child, 0)
    assert theirs != new_correlation_id()


def app_with_checked_route() -> FastAPI:
    app = guarded_app()
    app.include_router(router)
    return app


@pytest.fixture
async def anonymous() -> AsyncIterator[httpx.AsyncClient]:
    async with client(app_with_checked_route()) as http:
        yield http


def test_a_route_that_checks_its_caller_itself_is_known_to_need_one() -> None:
    [route] = router.routes
    assert caller_kinds(route) == frozenset({"staff"})


async def test_a_self_checking_route_answers_strangers_as_a_dependency_would(
    anonymous: httpx.AsyncClient,
) -> None:
    pulled: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        pulled.append(1)
        yield b"x"

    missing = await anonymous.post("/checked", content=body())
    anonymous.headers["Authorization"] = "Bearer not-a-known-token"
    unknown = await anonymous.post("/checked", content=b"x" * (CAP + 1))  # 401, not 413
    assert (missing.status_code, missing.json()) == (401, {"detail": "missing bearer token"})
    assert (unknown.status_code, unknown.json()) == (401, {"detail": "unknown token"})
    assert missing.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"
    assert pulled == []


async def test_a_self_checking_route_is_capped_and_audited_like_the_others() -> None:
    with structlog.testing.capture_logs() as logs:
        async with client(app_with_checked_route(), "staff", "ops") as staff:
            ok = await staff.post("/checked", content=b"abc")
            too_big = await staff.post("/checked", content=b"x" * (CAP + 1))
    assert (ok.status_code, ok.json()) == (200, {"staff": "ops", "bytes": 3})
    assert too_big.status_code == 413
    audits = [line for line in logs if line["event"] == "audit"]
    assert [(a["principal"], a["route"], a["status"]) for a in audits] == [
        ("ops", "/checked", 200),
        ("ops", "/checked", 413),
    ]
    assert audits[0]["action"] == "checked.post"


async def test_fastapi_s_own_spans_stay_off_with_a_global_provider(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An agent or FASTAPI_OTEL_AUTO_CONFIGURE sets a global provider: FastAPI's spans would
    # carry the raw path (NHS numbers); the runtime's spans are the only ones.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    async with kit.client() as anonymous:
        assert (await anonymous.get("/patients/9990000018/nowhere")).status_code == 404
        assert (await anonymous.get("/healthz")).status_code == 200
    assert exporter.get_finished_spans() == ()
