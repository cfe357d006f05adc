"""HTTP: senders post ADT, practices read their alerts, staff see and rerun held/rejected.

`POST /v1/hl7v2` authenticates the sender before a byte of the body is read, caps
the body while reading it (413), and answers every body 200 with an HL7 ACK: whatever the
bytes, the handler ends in AA, AE or AR (see service_layer/handlers.py).
"""

import re
from functools import partial
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from pydantic import AwareDatetime, BaseModel
from sse_starlette import EventSourceResponse

from ensemble_contracts.limits import EARLIEST, LATEST
from ensemble_contracts.scoring import RiskBand
from ensemble_runtime.auth import (
    OwnPractice,
    Staff,
    authenticates,
    caller_user,
    principal_for_request,
    principal_now,
)
from ensemble_runtime.service import ServiceRuntime, runtime_from, runtime_of
from hospital_feed.adapters import views
from hospital_feed.adapters.orm import AlertStatus, MessageStatus
from hospital_feed.domain.acknowledgement import AlertState, Outcome
from hospital_feed.domain.batch import is_batch
from hospital_feed.domain.encounters import AlertKind
from hospital_feed.domain.hl7_message import decode_body
from hospital_feed.entrypoints.alert_display import view_options
from hospital_feed.entrypoints.alert_stream import alert_stream
from hospital_feed.entrypoints.hl7_batches import receive_batch
from hospital_feed.service_layer.commands import AcknowledgeAlert, ReceiveHl7, ReprocessMessage
from hospital_feed.service_layer.handlers import NotReprocessable

HL7_MEDIA_TYPE = "application/hl7-v2"
MAX_ID = 2**31 - 1  # ids are 32-bit integers: larger ones are 422, not a store error
_DECIMAL = re.compile(r"[0-9]+")

Runtime = Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
router = APIRouter(prefix="/v1")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over `limit` bytes without buffering all of it."""
    declared = request.headers.get("content-length", "")
    if _DECIMAL.fullmatch(declared) and (len(declared) > 18 or int(declared) > limit):
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
    chunks: list[bytes] = []  # joined once: a body in one chunk (the guard's) is not copied
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
        if chunk:
            chunks.append(chunk)
    return b"".join(chunks)


@router.post("/hl7v2", tags=["hospital senders"], response_class=Response)
@authenticates("sender")
async def post_hl7v2(request: Request) -> Response:
    """One HL7 v2 ADT message (ER7), or a batch file (FHS/BHS): answers the HL7 ACK (for a
    batch, the response batch, one ACK per message); AA only once committed. One answer per
    request, in original mode whatever MSH-15/16 say: HTTP has no second frame to send."""
    # No dependencies on the busiest route (solving them cost more than the check): the
    # sender is checked here, with `Sender`'s 401s, before a byte of the body is read.
    sender = await principal_for_request(request, "sender")
    runtime = runtime_from(request)
    raw, charset = decode_body(await _read_body(request, runtime.settings.max_message_bytes))
    # Traced by sender and transport only: the message itself names the patient.
    attributes = {"ensemble.sender": sender, "ensemble.transport": "http"}
    with runtime.tracing.span("hl7v2 intake", attributes=attributes):
        if is_batch(raw):
            return Response(
                await receive_batch(runtime, sender, raw, charset), media_type=HL7_MEDIA_TYPE
            )
        ack = await runtime.execute(ReceiveHl7(sender, raw, charset))
    return Response(ack, media_type=HL7_MEDIA_TYPE)


@router.get("/practices/{ods}/alerts", tags=["practices"])
async def practice_alerts(
    practice: OwnPractice,
    runtime: Runtime,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kind: Annotated[AlertKind | None, Query()] = None,
    band: Annotated[RiskBand | None, Query()] = None,
    since: Annotated[AwareDatetime | None, Query(description="ISO 8601, with an offset")] = None,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    state: Annotated[AlertState | None, Query()] = None,
) -> dict[str, Any]:
    """This practice's alerts, oldest first, optionally filtered; poll or page on with
    `after=<next_after>` (the last alert_id of the page; null when the page is empty)."""
    if since is not None and not EARLIEST <= since < LATEST:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "since is out of range")
    query = partial(
        views.practice_alerts,
        kind=kind,
        band=band,
        since=since,
        status=status_,
        state=state,
        **view_options(runtime),
    )
    alerts = await runtime.read(query, practice, after, limit)
    return {"alerts": alerts, "next_after": alerts[-1]["alert_id"] if alerts else None}


@router.get(
    "/practices/{ods}/alerts/stream", tags=["practices"], response_class=EventSourceResponse
)
async def practice_alert_stream(
    request: Request,
    practice: OwnPractice,
    runtime: Runtime,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """This practice's alerts as Server-Sent Events (`text/event-stream`): those after
    `Last-Event-ID` (or `after`; the header wins, as a browser reconnecting sends it), then
    each new one as it arrives. `id:` is the alert_id, `event: alert`, `data:` the alert as
    the list gives it."""
    if last_event_id is not None:
        value = last_event_id.strip()
        if not (_DECIMAL.fullmatch(value) and len(value) <= 10 and int(value) <= MAX_ID):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "bad Last-Event-ID")
        after = int(value)

    async def still_allowed() -> bool:
        return (await principal_now(request, "practice") or "").upper() == practice

    return alert_stream(runtime, practice, still_allowed, after)


class Actioned(BaseModel):
    outcome: Outcome


AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]


async def acknowledge(
    runtime: ServiceRuntime[Any, Any],
    practice: str,
    alert_id: int,
    user: str,
    action: AlertState,
    outcome: Outcome | None = None,
) -> dict[str, Any]:
    """Run the acknowledgement and read the alert back; 404 for an alert the practice does
    not have (whether or not another practice has it)."""
    if not await runtime.execute(AcknowledgeAlert(practice, alert_id, user, action, outcome)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    query = partial(views.practice_alert, **view_options(runtime))
    updated = await runtime.read(query, practice, alert_id)
    if updated is None:  # not deleted by anything today; the route still never answers None
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such alert")
    return updated


@router.post("/practices/{ods}/alerts/{alert_id}/seen", tags=["practices"])
async def alert_seen(
    request: Request, alert_id: AlertId, practice: OwnPractice, runtime: Runtime
) -> dict[str, Any]:
    """Someone at the practice has seen the alert (repeating it keeps the first who and when).
    Who: the token's user (the practice itself for an env-configured token)."""
    user = caller_user(request)
    return await acknowledge(runtime, practice, alert_id, user, AlertState.SEEN)


@router.post("/practices/{ods}/alerts/{alert_id}/actioned", tags=["practices"])
async def alert_actioned(
    request: Request, alert_id: AlertId, body: Actioned, practice: OwnPractice, runtime: Runtime
) -> dict[str, Any]:
    """The practice acted on the alert, with what it did; implies seen. Repeating it keeps
    the first who, when and outcome."""
    user = caller_user(request)
    return await acknowledge(runtime, practice, alert_id, user, AlertState.ACTIONED, body.outcome)


@router.get("/messages", tags=["staff"])
async def messages(
    _staff: Staff,
    runtime: Runtime,
    status_: Annotated[MessageStatus, Query(alias="status")] = MessageStatus.REJECTED,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Stored messages with one status, oldest first (metadata only, never the raw)."""
    return {"messages": await runtime.read(views.messages, status_, after, limit)}


@router.post("/messages/{message_id}/reprocess", tags=["staff"])
async def reprocess_message(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)], _staff: Staff, runtime: Runtime
) -> dict[str, Any]:
    """Run a rejected or held message through the rules again (e.g. after a fix)."""
    try:
        result = await runtime.execute(ReprocessMessage(message_id))
    except NotReprocessable as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such message")
    return {
        "id": result.message_id,
        "status": result.status,
        "ack_code": result.ack_code,
        "error": result.error,
    }
