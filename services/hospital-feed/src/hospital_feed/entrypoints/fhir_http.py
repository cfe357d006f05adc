"""HTTP: FHIR R4 Encounters from hospital senders (docs/fhir-intake.md).

`POST /v1/fhir/Encounter` takes one Encounter, `POST /v1/fhir` a transaction or batch
Bundle of them, as `application/fhir+json` (or `application/json`), authenticated like
`POST /v1/hl7v2`: the sender's bearer token, checked before a byte of the body is read.
Every answer is FHIR JSON: an OperationOutcome for one Encounter or a refused Bundle, a
transaction-response or batch-response Bundle (a status and outcome per entry) otherwise.
Refusals raised around the route's own code (the sender's 401, the HTTP guard's 413, a busy
store's 503) are OperationOutcomes too (`FhirRoute`), with their status and headers.
"""

from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import Any

import fhir.resources.R4B.encounter  # noqa: F401  (models loaded at start, not on a request)
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from ensemble_runtime.auth import Sender
from ensemble_runtime.group_commit import Overloaded
from hospital_feed.domain.fhir_bundle import in_entry, read_bundle
from hospital_feed.domain.fhir_resource import FhirError, load_json
from hospital_feed.entrypoints.http import Runtime, _read_body
from hospital_feed.service_layer.fhir_intake import EntryOutcome, FhirEntry, ReceiveFhir

FHIR_MEDIA_TYPE = "application/fhir+json"
ACCEPTED_MEDIA_TYPES = frozenset({FHIR_MEDIA_TYPE, "application/json"})

# Issue types (FHIR R4 IssueType) of refusals from around the route, by status; the
# diagnostics are the refusal's own text (never input) unless named here.
_AROUND_ROUTE = {
    401: ("login", None),
    403: ("forbidden", None),
    413: ("too-costly", "the request body is too large"),
    429: ("throttled", None),
    503: ("transient", None),
}
BUSY = "the service is busy; retry shortly"  # as the runtime's plain JSON 503 says


def issue(severity: str, code: str, diagnostics: str, expression: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        found["expression"] = [expression]
    return found


def operation_outcome(*issues: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def fhir_response(status: int, resource: dict[str, Any]) -> JSONResponse:
    return JSONResponse(resource, status_code=status, media_type=FHIR_MEDIA_TYPE)


def _refusal(
    status: int,
    code: str,
    diagnostics: str,
    expression: str | None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    resource = operation_outcome(issue("error", code, diagnostics, expression))
    return JSONResponse(resource, status, headers=headers, media_type=FHIR_MEDIA_TYPE)


def _outcome_of(error: HTTPException) -> JSONResponse:
    """An HTTP refusal as an OperationOutcome, its status and headers kept."""
    status = error.status_code
    code, text = _AROUND_ROUTE.get(status, ("processing" if status < 500 else "exception", None))
    diagnostics = text or (error.detail if isinstance(error.detail, str) else None)
    return _refusal(status, code, diagnostics or HTTPStatus(status).phrase, None, error.headers)


class FhirRoute(APIRoute):
    """A FHIR route whose refusals from its dependencies (the sender's token), the guard (a
    body past the cap, raised where the body is read) or the store (busy) are
    OperationOutcomes rather than the plain JSON every other route answers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handle(request)
            except HTTPException as error:
                return _outcome_of(error)
            except Overloaded as error:
                headers = {"Retry-After": str(error.retry_after_seconds)}
                return _refusal(503, "transient", BUSY, None, headers)

        return answer


router = APIRouter(prefix="/v1/fhir", tags=["hospital senders"], route_class=FhirRoute)


def _issue_of(outcome: EntryOutcome, index: int | None = None) -> dict[str, Any]:
    where = outcome.expression
    if where is not None and index is not None:
        where = in_entry(where, index)
    return issue(outcome.severity, outcome.code, outcome.diagnostics, where)


async def _text(request: Request, runtime: Runtime, what: str) -> str | JSONResponse:
    """The body as text, or the OperationOutcome refusing it (415, 400; a 413 is raised and
    answered by `FhirRoute`)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        text = "send application/fhir+json (or application/json)"
        return _refusal(415, "not-supported", text, None)
    body = await _read_body(request, runtime.settings.max_message_bytes)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return _refusal(400, "structure", "FHIR JSON must be UTF-8", what)


def _span_attributes(sender: str, entries: int) -> dict[str, str | int]:
    """Traced by sender and size only: the resources name the patient."""
    return {"ensemble.sender": sender, "ensemble.transport": "http", "fhir.entries": entries}


@router.post("/Encounter", response_class=JSONResponse)
async def post_encounter(request: Request, sender: Sender, runtime: Runtime) -> JSONResponse:
    """One Encounter: 200 accepted (or a duplicate), 202 held for staff (no usable NHS
    number), 400/403/422 refused; always with an OperationOutcome. Stored whatever it is."""
    text = await _text(request, runtime, "Encounter")
    if isinstance(text, JSONResponse):
        return text
    with runtime.tracing.span("fhir intake", attributes=_span_attributes(sender, 1)):
        received = await runtime.execute(ReceiveFhir(sender, (FhirEntry(text),)))
    outcome = received.outcomes[0]
    return fhir_response(outcome.http_status, operation_outcome(_issue_of(outcome)))


@router.post("", response_class=JSONResponse)
async def post_bundle(request: Request, sender: Sender, runtime: Runtime) -> JSONResponse:
    """A transaction or batch Bundle of Encounters. A batch answers 200 with a status per
    entry; a transaction too, unless an entry is refused: then nothing is kept and the
    answer is that entry's 4xx with an OperationOutcome naming each refused entry."""
    text = await _text(request, runtime, "Bundle")
    if isinstance(text, JSONResponse):
        return text
    try:
        bundle = read_bundle(load_json(text, "Bundle"))
    except FhirError as error:
        return _refusal(error.http_status, error.issue_code, error.text, error.expression)
    entries = tuple(FhirEntry(entry.raw, entry.full_url) for entry in bundle.entries)
    with runtime.tracing.span("fhir intake", attributes=_span_attributes(sender, len(entries))):
        received = await runtime.execute(ReceiveFhir(sender, entries, bundle.type))
    if not received.committed:
        refused = [(i, o) for i, o in enumerate(received.outcomes) if o.refused]
        issues = [_issue_of(outcome, index) for index, outcome in refused]
        return fhir_response(refused[0][1].http_status, operation_outcome(*issues))
    return fhir_response(
        200,
        {
            "resourceType": "Bundle",
            "type": f"{bundle.type}-response",
            "entry": [
                {
                    "response": {
                        "status": f"{o.http_status} {HTTPStatus(o.http_status).phrase}",
                        "outcome": operation_outcome(_issue_of(o, index)),
                    }
                }
                for index, o in enumerate(received.outcomes)
            ],
        },
    )
