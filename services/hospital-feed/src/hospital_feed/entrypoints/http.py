"""HTTP: senders post ADT, practices read their alerts, staff see and rerun held/rejected."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import Hl7Message, MessageStatus, PracticeAlert, as_utc
from hospital_feed.config import Settings
from hospital_feed.domain.hl7_message import decode
from hospital_feed.service_layer.handlers import NotReprocessable, receive_hl7v2, reprocess

HL7_MEDIA_TYPE = "application/hl7-v2"
T = TypeVar("T")


def _iso(moment: Any) -> str | None:
    value = as_utc(moment)
    return value.isoformat() if value else None


def alert_view(alert: PracticeAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "nhs_number": alert.nhs_number,
        "encounter_event_id": str(alert.encounter_event_id),
        "sending_facility": alert.sending_facility,
        "visit_number": alert.visit_number,
        "location": alert.location,
        "event_at": _iso(alert.event_at),
        "created_at": _iso(alert.created_at),
        "status": alert.status,
        "retracted_by_event_id": (
            str(alert.retracted_by_event_id) if alert.retracted_by_event_id else None
        ),
    }


def message_view(message: Hl7Message) -> dict[str, Any]:
    """Metadata only: the raw message is clinical content and stays in the store."""
    return {
        "id": message.id,
        "sender": message.sender,
        "sending_facility": message.sending_facility,
        "control_id": message.control_id,
        "trigger": message.trigger,
        "status": message.status,
        "ack_code": message.ack_code,
        "error_code": message.error_code,
        "error": message.error,
        "received_at": _iso(message.received_at),
        "reprocessed_at": _iso(message.reprocessed_at),
        "event_id": str(message.event_id) if message.event_id else None,
    }


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over `limit` bytes without buffering all of it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
    return bytes(body)


async def _transact(runtime: ServiceRuntime, work: Callable[[UnitOfWork], T]) -> T:
    try:
        return await runtime.transact(work)
    except IntegrityError:
        # A concurrent twin (same resend key or business key) committed first. Run again:
        # this time the rules see it and answer as for a resend or a duplicate.
        return await runtime.transact(work)


def build_router(runtime: ServiceRuntime, settings: Settings) -> APIRouter:
    senders = TokenRegistry(settings.tokens("sender"))
    practices = TokenRegistry(settings.tokens("practice"))
    staff = TokenRegistry(settings.tokens("staff"))
    router = APIRouter(prefix="/v1")

    @router.post("/hl7v2", tags=["hospital senders"], response_class=Response)
    async def post_hl7v2(request: Request) -> Response:
        """One HL7 v2 ADT message (ER7). Answers the HL7 ACK; AA only once committed."""
        sender = authenticate(request, senders)
        raw = decode(await _read_body(request, settings.max_message_bytes))
        ack = await _transact(runtime, lambda uow: receive_hl7v2(uow, sender, raw))
        return Response(ack, media_type=HL7_MEDIA_TYPE)

    @router.get("/practices/{ods}/alerts", tags=["practices"])
    async def practice_alerts(
        ods: str,
        request: Request,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """This practice's alerts, oldest first; poll with `after=<last alert_id>`."""
        practice = ods.upper()
        if authenticate(request, practices).upper() != practice:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")

        def query(session: Session) -> list[dict[str, Any]]:
            rows = session.exec(
                select(PracticeAlert)
                .where(PracticeAlert.practice_ods == practice)
                .where(col(PracticeAlert.alert_id) > after)
                .order_by(col(PracticeAlert.alert_id))
                .limit(limit)
            )
            return [alert_view(alert) for alert in rows]

        return {"alerts": await runtime.read(query)}

    @router.get("/messages", tags=["staff"])
    async def messages(
        request: Request,
        status_: Annotated[MessageStatus, Query(alias="status")] = MessageStatus.REJECTED,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Stored messages with one status, oldest first (metadata only, never the raw)."""
        authenticate(request, staff)

        def query(session: Session) -> list[dict[str, Any]]:
            rows = session.exec(
                select(Hl7Message)
                .where(Hl7Message.status == status_)
                .where(col(Hl7Message.id) > after)
                .order_by(col(Hl7Message.id))
                .limit(limit)
            )
            return [message_view(m) for m in rows]

        return {"messages": await runtime.read(query)}

    @router.post("/messages/{message_id}/reprocess", tags=["staff"])
    async def reprocess_message(message_id: int, request: Request) -> dict[str, Any]:
        """Run a rejected or held message through the rules again (e.g. after a fix)."""
        authenticate(request, staff)
        try:
            result = await _transact(runtime, lambda uow: reprocess(uow, message_id))
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

    return router
