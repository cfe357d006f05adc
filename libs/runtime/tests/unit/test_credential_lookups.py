"""A service's own store of tokens (`ServiceDefinition.credential_lookups`), after env tokens.

The lookup runs on the reader engine once per request (the guard, the route's dependency and
the audit line share the answer) and never across requests, so a revoke is seen at once.
"""

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, Request
from sqlmodel import Session

from ensemble_devkit.testkit import tokens
from ensemble_runtime.auth import Caller, OwnPractice, caller_user, principal_now

from ..support import Kit, definition, kit_fixture

STORED = "stored-token-of-alice-at-L85001"
router = APIRouter()


@router.get("/practices/{ods}/who")
async def who(ods: OwnPractice, request: Request) -> dict[str, str]:
    return {"ods": ods, "user": caller_user(request)}


@router.get("/practices/{ods}/asked-twice")
async def asked_twice(ods: OwnPractice, request: Request, revoke: bool = False) -> dict[str, Any]:
    """What a stream does: the request's check, then the same question asked again later."""
    if revoke:
        STORE_OF_TEST[0].valid.clear()
    return {"now": await principal_now(request, "practice")}


class Store:
    """Stands in for a service's token table: what is valid now, and how often it was asked."""

    def __init__(self) -> None:
        self.valid: dict[str, Caller] = {STORED: Caller("L85001", "alice")}
        self.asked: list[datetime] = []

    def lookup(self, session: Session, token: str, now: datetime) -> Caller | None:
        assert isinstance(session, Session)  # a reader session, opened by runtime.read
        self.asked.append(now)
        return self.valid.get(token)


STORE_OF_TEST: list["Store"] = []  # the running test's store, for the route that revokes


@pytest.fixture
def store() -> Store:
    STORE_OF_TEST[:] = [Store()]
    return STORE_OF_TEST[0]


@pytest.fixture
def kit(tmp_path: Path, store: Store) -> Iterator[Kit]:
    service = dataclasses.replace(
        definition(routers=[router]), credential_lookups={"practice": store.lookup}
    )
    yield from kit_fixture(
        service, f"sqlite:///{tmp_path}/s.db", practice_tokens=tokens("practice", "L85002")
    )


def bearer(kit: Kit, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=kit.service.app),
        base_url="http://t",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_a_stored_token_names_its_practice_and_user_once_per_request(
    kit: Kit, store: Store
) -> None:
    with structlog.testing.capture_logs() as logs:
        async with bearer(kit, STORED) as http:
            answer = await http.get("/practices/L85001/who")
    assert answer.json() == {"ods": "L85001", "user": "alice"}
    assert store.asked == [kit.clock()]  # once, with the runtime's clock
    audit = [line for line in logs if line["event"] == "audit"]
    assert [(line["principal"], line["user"], line["status"]) for line in audit] == [
        ("L85001", "alice", 200)
    ]


async def test_env_tokens_come_first_and_their_user_is_the_principal(
    kit: Kit, store: Store
) -> None:
    async with kit.client("practice", "L85002") as http:
        assert (await http.get("/practices/L85002/who")).json() == {
            "ods": "L85002",
            "user": "L85002",
        }
    assert store.asked == []  # the env registry answered: no store read


async def test_a_token_gone_from_the_store_is_refused_by_the_next_request(
    kit: Kit, store: Store
) -> None:
    async with bearer(kit, STORED) as http:
        assert (await http.get("/practices/L85001/who")).status_code == 200
        del store.valid[STORED]  # revoked
        refused = await http.get("/practices/L85001/who")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"


async def test_an_unknown_token_is_401_and_another_practice_is_403(kit: Kit, store: Store) -> None:
    async with bearer(kit, "no-such-token-anywhere") as http:
        assert (await http.get("/practices/L85001/who")).status_code == 401
    async with bearer(kit, STORED) as http:
        assert (await http.get("/practices/L85002/who")).status_code == 403


def test_caller_user_outside_an_authenticated_route_is_a_bug() -> None:
    request = Request({"type": "http", "headers": [], "state": {}})
    with pytest.raises(LookupError):
        caller_user(request)


async def test_principal_now_asks_the_store_again_not_the_request_s_memo(
    kit: Kit, store: Store
) -> None:
    async with bearer(kit, STORED) as http:
        held = await http.get("/practices/L85001/asked-twice")
        revoked = await http.get("/practices/L85001/asked-twice", params={"revoke": "true"})
    assert held.json() == {"now": "L85001"}
    assert revoked.json() == {"now": None}  # revoked after the request's own check
    assert len(store.asked) == 4  # each request: its check, then principal_now's


async def test_principal_now_answers_env_tokens_from_their_registry(kit: Kit, store: Store) -> None:
    async with kit.client("practice", "L85002") as http:
        assert (await http.get("/practices/L85002/asked-twice")).json() == {"now": "L85002"}
    assert store.asked == []
