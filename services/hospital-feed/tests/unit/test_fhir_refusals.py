"""The FHIR routes' refusals from outside the route's own checks (the sender's 401, the
guard's 413, a busy store's 503) are OperationOutcomes too, with their status and headers;
the HL7 v2 and practice JSON routes keep their plain JSON answers."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ensemble_runtime.group_commit import Overloaded

from ..fhir_samples import bundle, encounter
from ..samples import adt
from ..support import FeedKit, stored

FHIR_JSON = {"content-type": "application/fhir+json"}
ROUTES = (("/v1/fhir/Encounter", encounter()), ("/v1/fhir", bundle("batch")))


def refusal(response: httpx.Response, status: int, code: str) -> str:
    """The answer checked to be an OperationOutcome with one error issue of `code`: its
    diagnostics."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/fhir+json"
    found = OperationOutcome.model_validate(response.json())
    assert found.issue is not None and len(found.issue) == 1
    (issue,) = found.issue
    assert (issue.severity, issue.code) == ("error", code)
    assert issue.diagnostics
    return str(issue.diagnostics)


@pytest.mark.parametrize(("path", "resource"), ROUTES)
async def test_a_missing_or_unknown_sender_token_is_a_401_operation_outcome(
    kit: FeedKit, path: str, resource: Any
) -> None:
    body = json.dumps(resource)
    async with kit.client() as anonymous, kit.client("practice", "L85001") as practice:
        missing = await anonymous.post(path, content=body, headers=FHIR_JSON)
        unknown = await practice.post(path, content=body, headers=FHIR_JSON)
        # Authentication first: a wrong media type says nothing to a stranger.
        wrong_type = await anonymous.post(path, content="x", headers={"content-type": "text/x"})
    assert refusal(missing, 401, "login") == "missing bearer token"
    assert refusal(unknown, 401, "login") == "unknown token"
    assert refusal(wrong_type, 401, "login") == "missing bearer token"
    for answer in (missing, unknown, wrong_type):
        assert answer.headers["www-authenticate"] == "Bearer"
    assert stored(kit) == []


async def test_a_body_past_the_cap_is_a_413_operation_outcome_declared_or_streamed(
    kit: FeedKit,
) -> None:
    cap = kit.settings.max_body_bytes

    async def streamed() -> AsyncIterator[bytes]:  # chunked: no Content-Length to go by
        yield b'{"resourceType": "Encounter", "text": "'
        yield b"x" * cap

    async with kit.client("sender", "RCB") as client:
        declared = await client.post(
            "/v1/fhir/Encounter", content=b"{" + b" " * cap + b"}", headers=FHIR_JSON
        )
        chunked = await client.post("/v1/fhir", content=streamed(), headers=FHIR_JSON)
    assert "content-length" not in chunked.request.headers
    for answer in (declared, chunked):
        assert refusal(answer, 413, "too-costly") == "the request body is too large"
    assert chunked.headers["connection"] == "close"  # the guard's: the rest is unread
    assert stored(kit) == []


@pytest.mark.parametrize(("path", "resource"), ROUTES)
async def test_a_busy_store_is_a_503_operation_outcome_with_retry_after(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch, path: str, resource: Any
) -> None:
    async def busy(*_args: Any, **_kwargs: Any) -> Any:
        raise Overloaded

    monkeypatch.setattr(kit.runtime, "execute", busy)
    async with kit.client("sender", "RCB") as client:
        answer = await client.post(path, content=json.dumps(resource), headers=FHIR_JSON)
    assert refusal(answer, 503, "transient") == "the service is busy; retry shortly"
    assert answer.headers["retry-after"] == "1"


async def test_the_route_s_own_refusals_are_as_before(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as client:
        wrong_type = await client.post("/v1/fhir", content="x", headers={"content-type": "text/x"})
        forbidden = await client.post(
            "/v1/fhir/Encounter", content=json.dumps(encounter(trust="RVJ")), headers=FHIR_JSON
        )
    assert refusal(wrong_type, 415, "not-supported").startswith("send application/fhir+json")
    assert forbidden.status_code == 403
    assert OperationOutcome.model_validate(forbidden.json()).issue[0].code == "forbidden"


async def test_hl7v2_and_practice_json_routes_keep_their_plain_json_refusals(
    kit: FeedKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = kit.settings.max_body_bytes
    async with kit.client() as anonymous, kit.client("sender", "RCB") as sender:
        hl7_401 = await anonymous.post("/v1/hl7v2", content=adt())
        practice_401 = await anonymous.get("/v1/practices/L85001/alerts")
        hl7_413 = await sender.post("/v1/hl7v2", content=b"x" * (cap + 1))

        async def busy(*_args: Any, **_kwargs: Any) -> Any:
            raise Overloaded

        monkeypatch.setattr(kit.runtime, "execute", busy)
        hl7_503 = await sender.post("/v1/hl7v2", content=adt())
    expected = [
        (hl7_401, 401, {"detail": "missing bearer token"}),
        (practice_401, 401, {"detail": "missing bearer token"}),
        (hl7_413, 413, {"detail": "message too large"}),
        (hl7_503, 503, {"detail": "the service is busy; retry shortly"}),
    ]
    for answer, status, body in expected:
        assert (answer.status_code, answer.json()) == (status, body)
        assert answer.headers["content-type"] == "application/json"
    assert hl7_401.headers["www-authenticate"] == "Bearer"
    assert hl7_503.headers["retry-after"] == "1"
