"""The HTTP API through ASGI (no lifespan, so no Kafka): auth, score reads, profile loads."""

import codecs
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import structlog

from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_runtime.http_guard import unbounded_int_params
from scoring.config import Settings
from scoring.entrypoints.http import router

from ..support import NHS_NUMBERS, STAFF, Kit, high_risk, moderate_risk, published, scoring_kit


@pytest.fixture
async def client(kit: Kit) -> AsyncIterator[httpx.AsyncClient]:
    """A staff member's client."""
    async with kit.client("staff", STAFF) as client:
        yield client


@pytest.fixture
async def anonymous(kit: Kit) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends only the headers each test gives."""
    async with kit.client() as client:
        yield client


def ndjson(*profiles: dict[str, object]) -> str:
    return "\n".join(json.dumps(p) for p in profiles)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
async def test_unknown_callers_get_401(
    anonymous: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    nhs = next(NHS_NUMBERS)
    assert (await anonymous.get(f"/v1/patients/{nhs}/score", headers=headers)).status_code == 401
    posted = await anonymous.post("/v1/profiles", content=ndjson(high_risk(nhs)), headers=headers)
    assert posted.status_code == 401


async def test_an_invalid_nhs_number_is_400(client: httpx.AsyncClient) -> None:
    for bad in ("9434765918", "9999999999", "12345"):
        response = await client.get(f"/v1/patients/{bad}/score")
        assert response.status_code == 400
        assert bad not in response.text


async def test_an_unknown_patient_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/patients/{next(NHS_NUMBERS)}/score")
    assert response.status_code == 404


async def test_load_then_read_a_score(client: httpx.AsyncClient, kit: Kit) -> None:
    high, moderate = next(NHS_NUMBERS), next(NHS_NUMBERS)
    posted = await client.post(
        "/v1/profiles", content=ndjson(high_risk(high), moderate_risk(moderate))
    )
    assert posted.status_code == 200
    assert posted.json() == {
        "loaded": 2,
        "changed": 2,
        "unchanged": 0,
        "older": 0,
        "errors": [],
        "warnings": [],
    }

    response = await client.get(f"/v1/patients/{high}/score")
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
    assert len(published(kit, SCORE_CHANGES, high)) == 1


async def test_csv_upload(client: httpx.AsyncClient) -> None:
    nhs = next(NHS_NUMBERS)
    text = f"nhs_number,practice_ods,conditions,efi_deficits\n{nhs},L85001,diabetes;copd,13\n"
    posted = await client.post(
        "/v1/profiles", content=text, headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert (posted.json()["loaded"], posted.json()["errors"]) == (1, [])
    body = (await client.get(f"/v1/patients/{nhs}/score")).json()
    assert body["score"] == 16 + 16
    assert body["band"] == "high"


async def test_some_bad_lines_load_the_rest(client: httpx.AsyncClient) -> None:
    nhs = next(NHS_NUMBERS)
    body = ndjson(high_risk(nhs)) + "\n{oops\n" + ndjson({"nhs_number": "9434765918"})
    posted = await client.post("/v1/profiles", content=body)
    assert posted.status_code == 200
    assert posted.json()["loaded"] == 1
    assert [e.split(":")[0] for e in posted.json()["errors"]] == ["line 2", "line 3"]
    assert "9434765918" not in posted.text


async def test_every_line_bad_is_400(client: httpx.AsyncClient) -> None:
    posted = await client.post("/v1/profiles", content="{oops\n[1]\n")
    assert posted.status_code == 400
    assert posted.json()["loaded"] == 0
    assert len(posted.json()["errors"]) == 2
    empty = await client.post("/v1/profiles", content="")
    assert empty.status_code == 400


async def test_a_body_that_is_not_utf8_is_400(client: httpx.AsyncClient) -> None:
    posted = await client.post("/v1/profiles", content=b"\xff\xfe\x00")
    assert posted.status_code == 400


# --- hostile input over HTTP: a 4xx or row errors, never a 5xx --------------------------------


HOSTILE_LINES = [
    b'{"nhs_number": "%s", "preferred_language": "en-' + b"a" * 40 + b'"}',
    b'{"nhs_number": "%s", "repeat_medicines": NaN}',
    b'{"nhs_number": "%s", "repeat_medicines": ' + str(10**30).encode() + b"}",
    b'{"nhs_number": "%s", "repeat_medicines": ' + b"9" * 5000 + b"}",
    b'{"nhs_number": "%s", "conditions": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"nhs_number": "%s", "preferred_language": "\\ud800"}',
    b'{"nhs_number": "%s", "conditions": ["\\udc00"]}',
    b'{"nhs_number": "%s", "practice_ods": "L85\\u0000"}',
    b'{"nhs_number": "%s", "preferred_language": "caf\xe9"}',  # Latin-1
    b'{"nhs_number": "%s", "birth_date": "0001-01-01"}',
    b'{"nhs_number": "%s", "on_caseload": {"a": 1}}',
    b"\x00\x00\x00",
    b"\xef\xbb\xbf{}",
]


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
async def test_a_hostile_ndjson_line_is_a_row_error_and_the_rest_load(
    client: httpx.AsyncClient, line: bytes
) -> None:
    good, bad = next(NHS_NUMBERS), next(NHS_NUMBERS)
    body = json.dumps(high_risk(good)).encode() + b"\n" + line.replace(b"%s", bad.encode())
    posted = await client.post("/v1/profiles", content=body)
    assert posted.status_code == 200
    assert posted.json()["loaded"] == 1
    [error] = posted.json()["errors"]
    assert error.startswith("line 2: ")
    assert bad not in posted.text
    assert (await client.get(f"/v1/patients/{good}/score")).status_code == 200
    assert (await client.get(f"/v1/patients/{bad}/score")).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"nhs_number," + b"h" * 131_073 + b"\n9990000018,1\n",
        b"h" * 131_000 + b"\n",
        b",".join([b"c%d" % i for i in range(20_000)]) + b"\n",
        b'nhs_number\n"unterminated\n',
        b"\x00" * 1000,
    ],
    ids=["131k-header", "131k-header-no-nhs", "20k-columns", "open-quote", "nuls"],
)
async def test_a_csv_that_cannot_load_is_a_400_with_reasons(
    client: httpx.AsyncClient, body: bytes
) -> None:
    posted = await client.post("/v1/profiles", content=body, headers={"Content-Type": "text/csv"})
    assert posted.status_code == 400
    assert posted.json()["loaded"] == 0
    assert posted.json()["errors"]
    assert len(posted.text) < 2000


async def test_a_body_that_is_no_text_is_400(client: httpx.AsyncClient) -> None:
    for content_type in ("text/csv", "application/x-ndjson"):
        posted = await client.post(
            "/v1/profiles",
            content=codecs.BOM_UTF16_LE + b"\x00\xd8",  # UTF-16 holding a lone surrogate
            headers={"Content-Type": content_type},
        )
        assert (posted.status_code, posted.json()) == (400, {"detail": "body is not UTF-8 text"})


async def test_a_csv_with_bad_rows_and_boms_loads_the_good_ones(client: httpx.AsyncClient) -> None:
    good, also_good = next(NHS_NUMBERS), next(NHS_NUMBERS)
    body = (
        codecs.BOM_UTF8
        + f"nhs_number,preferred_language,efi_deficits\r\n{good},pa,3\r\n".encode()
        + f"{next(NHS_NUMBERS)},caf\xe9,3\r\n".encode("latin-1")
        + f"{next(NHS_NUMBERS)},{'en-' + 'a' * 33},3\r\n".encode()
        + f"{next(NHS_NUMBERS)},en,{'9' * 40}\r\n".encode()
        + f"{next(NHS_NUMBERS)},en,{'x' * 140_000}\r\n".encode()
        + f"{also_good},cy,2\r\n".encode()
    )
    posted = await client.post("/v1/profiles", content=body, headers={"Content-Type": "text/csv"})
    assert posted.status_code == 200
    assert posted.json()["loaded"] == 2
    assert [e.split(":")[0] for e in posted.json()["errors"]] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]


async def test_an_unauthenticated_upload_of_anything_is_401(anonymous: httpx.AsyncClient) -> None:
    for body, content_type in [
        (b"\xff" * 100, "text/csv"),
        (b"[NaN]", "application/json"),
        (b"{", "application/x-ndjson"),
    ]:
        posted = await anonymous.post(
            "/v1/profiles", content=body, headers={"Content-Type": content_type}
        )
        assert posted.status_code == 401


async def test_the_extract_size_cap_comes_from_the_settings(tmp_path: Path) -> None:
    assert Settings(database_url="sqlite://").max_body_bytes == 50 * 1024 * 1024
    small = scoring_kit(f"sqlite:///{tmp_path / 'small.db'}", max_body_bytes=2048)
    try:
        async with small.client("staff", STAFF) as staff:
            lines = ndjson(*(high_risk(next(NHS_NUMBERS)) for _ in range(20)))
            assert len(lines) > 2048
            posted = await staff.post("/v1/profiles", content=lines)
            assert posted.status_code == 413
            one = await staff.post("/v1/profiles", content=ndjson(high_risk(next(NHS_NUMBERS))))
            assert one.status_code == 200
    finally:
        small.dispose()


async def test_score_reads_are_audited_without_the_nhs_number(client: httpx.AsyncClient) -> None:
    nhs = next(NHS_NUMBERS)
    await client.post("/v1/profiles", content=ndjson(high_risk(nhs)))
    with structlog.testing.capture_logs() as logs:
        assert (await client.get(f"/v1/patients/{nhs}/score")).status_code == 200
        assert (await client.get(f"/v1/patients/{next(NHS_NUMBERS)}/score")).status_code == 404
    audit = [line for line in logs if line["event"] == "audit"]
    assert [(a["principal"], a["route"], a["status"]) for a in audit] == [
        (STAFF, "/v1/patients/{nhs_number}/score", 200),
        (STAFF, "/v1/patients/{nhs_number}/score", 404),
    ]
    assert nhs not in json.dumps(logs)


def test_no_route_takes_an_unbounded_integer() -> None:
    assert unbounded_int_params([router]) == []
