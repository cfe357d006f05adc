"""HTTP: senders post ADT, practices read their alerts, staff see and rerun held/rejected.

`POST /v1/hl7v2` authenticates (a header dependency) before a byte of the body is read, caps
the body while reading it (413), and answers every body 200 with an HL7 ACK: whatever the
bytes, the handler ends in AA, AE or AR (see service_layer/handlers.py).
"""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from ensemble_runtime.auth import OwnPractice, Sender, Staff
from ensemble_runtime.service import ServiceRuntime, runtime_of
from hospital_feed.adapters import views
from hospital_feed.adapters.orm import MessageStatus
from hospital_feed.domain.hl7_message import decode_body
from hospital_feed.service_layer.commands import ReceiveHl7, ReprocessMessage
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
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
    return bytes(body)


@router.post("/hl7v2", tags=["hospital senders"], response_class=Response)
async def post_hl7v2(request: Request, sender: Sender, runtime: Runtime) -> Response:
    """One HL7 v2 ADT message (ER7). Answers the HL7 ACK; AA only once committed."""
    raw, charset = decode_body(await _read_body(request, runtime.settings.max_message_bytes))
    ack = await runtime.execute(ReceiveHl7(sender, raw, charset))
    return Response(ack, media_type=HL7_MEDIA_TYPE)


@router.get("/practices/{ods}/alerts", tags=["practices"])
async def practice_alerts(
    practice: OwnPractice,
    runtime: Runtime,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """This practice's alerts, oldest first; poll with `after=<last alert_id>`."""
    return {"alerts": await runtime.read(views.practice_alerts, practice, after, limit)}


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
