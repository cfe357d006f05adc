"""The HTTP API through ASGI (no lifespan, so no Kafka): auth, score reads, profile loads."""

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine

from ensemble_contracts.topics import SCORE_CHANGES
from scoring.bootstrap import bootstrap
from scoring.config import Settings

from ..support import high_risk, moderate_risk, new_nhs_number, published

STAFF = {"Authorization": "Bearer staff-token"}


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url="sqlite://",  # unused: the test store is passed in
        staff_tokens=json.dumps({"staff": "staff-token"}),
        kafka_bootstrap_servers="127.0.0.1:1",
    )
    service = bootstrap(settings, engine)
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://scoring") as client:
        yield client


def ndjson(*profiles: dict[str, object]) -> str:
    return "\n".join(json.dumps(p) for p in profiles)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
async def test_unknown_callers_get_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    nhs = new_nhs_number()
    assert (await client.get(f"/v1/patients/{nhs}/score", headers=headers)).status_code == 401
    posted = await client.post("/v1/profiles", content=ndjson(high_risk(nhs)), headers=headers)
    assert posted.status_code == 401


async def test_an_invalid_nhs_number_is_400(client: httpx.AsyncClient) -> None:
    for bad in ("9434765918", "9999999999", "12345"):
        response = await client.get(f"/v1/patients/{bad}/score", headers=STAFF)
        assert response.status_code == 400
        assert bad not in response.text


async def test_an_unknown_patient_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/patients/{new_nhs_number()}/score", headers=STAFF)
    assert response.status_code == 404


async def test_load_then_read_a_score(client: httpx.AsyncClient, engine: Engine) -> None:
    high, moderate = new_nhs_number(), new_nhs_number()
    posted = await client.post(
        "/v1/profiles", content=ndjson(high_risk(high), moderate_risk(moderate)), headers=STAFF
    )
    assert posted.status_code == 200
    assert posted.json() == {"loaded": 2, "errors": []}

    response = await client.get(f"/v1/patients/{high}/score", headers=STAFF)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "nhs_number",
        "score",
        "band",
        "model_version",
        "reasons",
        "inputs",
        "computed_at",
    }
    assert body["nhs_number"] == high
    assert body["score"] == 73
    assert body["band"] == "very_high"
    assert body["model_version"] == "ensemble-risk-1.0.0"
    assert sum(r["points"] for r in body["reasons"]) == 73
    assert all(set(r) == {"factor", "points", "detail"} for r in body["reasons"])
    assert body["inputs"]["repeat_medicines"] == 12
    assert body["computed_at"].endswith("+00:00")
    assert len(published(engine, SCORE_CHANGES.name, high)) == 1


async def test_csv_upload(client: httpx.AsyncClient) -> None:
    nhs = new_nhs_number()
    text = f"nhs_number,practice_ods,conditions,efi_deficits\n{nhs},L85001,diabetes;copd,13\n"
    posted = await client.post(
        "/v1/profiles", content=text, headers={**STAFF, "Content-Type": "text/csv; charset=utf-8"}
    )
    assert posted.json() == {"loaded": 1, "errors": []}
    body = (await client.get(f"/v1/patients/{nhs}/score", headers=STAFF)).json()
    assert body["score"] == 16 + 16
    assert body["band"] == "high"


async def test_some_bad_lines_load_the_rest(client: httpx.AsyncClient) -> None:
    nhs = new_nhs_number()
    body = ndjson(high_risk(nhs)) + "\n{oops\n" + ndjson({"nhs_number": "9434765918"})
    posted = await client.post("/v1/profiles", content=body, headers=STAFF)
    assert posted.status_code == 200
    assert posted.json()["loaded"] == 1
    assert [e.split(":")[0] for e in posted.json()["errors"]] == ["line 2", "line 3"]
    assert "9434765918" not in posted.text


async def test_every_line_bad_is_400(client: httpx.AsyncClient) -> None:
    posted = await client.post("/v1/profiles", content="{oops\n[1]\n", headers=STAFF)
    assert posted.status_code == 400
    assert posted.json()["loaded"] == 0
    assert len(posted.json()["errors"]) == 2
    empty = await client.post("/v1/profiles", content="", headers=STAFF)
    assert empty.status_code == 400


async def test_a_body_that_is_not_utf8_is_400(client: httpx.AsyncClient) -> None:
    posted = await client.post("/v1/profiles", content=b"\xff\xfe\x00", headers=STAFF)
    assert posted.status_code == 400
