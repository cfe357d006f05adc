"""Token settings are validated at start; routes authenticate with `caller` / `OwnPractice`."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from ensemble_devkit.testkit import ServiceKit, token, tokens
from ensemble_runtime.auth import OwnPractice, Staff, TokenRegistry, parse_token_map

from ..support import Kit, definition, kit_fixture

A = "a-token-of-16-chars"
B = "b-token-of-16-chars"


def test_token_maps_to_its_principal_only() -> None:
    registry = TokenRegistry(parse_token_map(f'{{"L85001": "{A}", "L85002": "{B}"}}'))
    assert registry.principal_for(B) == "L85002"
    assert registry.principal_for("c-token-of-16-chars") is None
    assert registry.principal_for("") is None


def test_token_map_must_be_an_object() -> None:
    assert parse_token_map("") == {}
    assert parse_token_map("  ") == {}
    with pytest.raises(ValueError, match="JSON object"):
        parse_token_map(f'["{A}"]')
    with pytest.raises(ValueError, match="JSON object"):
        parse_token_map("null")


@pytest.mark.parametrize(
    "raw",
    [
        '{"L85001": null}',
        '{"L85001": ""}',
        '{"L85001": "                    "}',
        '{"L85001": "short-token"}',
        '{"L85001": 1234567890123456789}',
        f'{{"L85001": "{A}", "L85002": "{A}"}}',
        f'{{"L85001": "{A}", "L85002": " {A} "}}',
        f'{{"": "{A}"}}',
    ],
    ids=["null", "empty", "blank", "short", "number", "duplicate", "padded-duplicate", "nameless"],
)
def test_unusable_tokens_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="PRACTICE_TOKENS"):
        parse_token_map(raw, "PRACTICE_TOKENS")


def test_a_service_with_a_bad_token_setting_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PRACTICE_TOKENS"):
        ServiceKit(definition(), f"sqlite:///{tmp_path}/s.db", practice_tokens='{"X": "short"}')


router = APIRouter()


@router.get("/staff")
def staff_only(staff: Staff) -> dict[str, str]:
    return {"staff": staff}


@router.get("/practices/{ods}")
def own_practice_only(ods: OwnPractice) -> dict[str, str]:
    return {"ods": ods}


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_fixture(
        definition(routers=[router]),
        f"sqlite:///{tmp_path}/s.db",
        practice_tokens=tokens("practice", "L85001", "L85002"),
        staff_tokens=tokens("staff", "ops"),
    )


async def test_a_route_answers_401_without_a_known_token_of_its_kind(
    kit: Kit,
) -> None:
    async with kit.client() as http:
        assert (await http.get("/staff")).status_code == 401
        wrong_scheme = {"Authorization": f"Basic {token('staff', 'ops')}"}
        assert (await http.get("/staff", headers=wrong_scheme)).status_code == 401
        unknown = {"Authorization": "Bearer staff-nobody-test-token"}
        response = await http.get("/staff", headers=unknown)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    async with kit.client("practice", "L85001") as http:  # a practice token is not staff's
        assert (await http.get("/staff")).status_code == 401
    async with kit.client("staff", "ops") as http:
        assert (await http.get("/staff")).json() == {"staff": "ops"}


async def test_a_practice_reaches_only_its_own_path(
    kit: Kit,
) -> None:
    async with kit.client("practice", "L85001") as http:
        assert (await http.get("/practices/l85001")).json() == {"ods": "L85001"}
        assert (await http.get("/practices/L85002")).status_code == 403
    async with kit.client("staff", "ops") as http:
        assert (await http.get("/practices/L85001")).status_code == 401
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=kit.service.app), base_url="http://t"
    ) as http:
        assert (await http.get("/practices/L85001")).status_code == 401
