"""HTTP: senders post ADT, practices read their alerts, staff see held/rejected messages."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlmodel import Session, col, select

from ensemble_runtime.auth import TokenRegistry, authenticate
from ensemble_runtime.service import ServiceRuntime
from hospital_feed.adapters.orm import Hl7Message, PracticeAlert
from hospital_feed.config import Settings
from hospital_feed.service_layer.handlers import receive_hl7v2, reprocess

HL7_MEDIA_TYPE = "application/hl7-v2"


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def alert_view(alert: PracticeAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "nhs_number": alert.nhs_number,
        "encounter_event_id": str(alert.encounter_event_id),
        "sending_facility": alert.sending_facility,
        "visit_number": alert.visit_number,
        "location": alert.location,
        "event_at": _utc(alert.event_at),
        "created_at": _utc(alert.created_at),
        "status": alert.status,
    }


def build_router(runtime: ServiceRuntime, settings: Settings) -> APIRouter:
    senders = TokenRegistry(settings.tokens("sender"))
    practices = TokenRegistry(settings.tokens("practice"))
    staff = TokenRegistry(settings.tokens("staff"))
    router = APIRouter(prefix="/v1")

    @router.post("/hl7v2", tags=["hospital senders"], response_class=Response)
    async def post_hl7v2(request: Request) -> Response:
        """One HL7 v2 ADT message (ER7). Answers the HL7 ACK; AA only once stored."""
        sender = authenticate(request, senders)
        body = await request.body()
        if len(body) > settings.max_message_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "message too large")
        raw = body.decode("utf-8", errors="replace")
        ack = await runtime.transact(lambda uow: receive_hl7v2(uow, sender, raw))
        return Response(ack, media_type=HL7_MEDIA_TYPE)

    @router.get("/practices/{ods}/alerts", tags=["practices"])
    async def practice_alerts(
        ods: str,
        request: Request,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """This practice's alerts, oldest first; poll with `after=<last alert_id>`."""
        if authenticate(request, practices) != ods.upper():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your practice")

        def query(session: Session) -> list[dict[str, Any]]:
            rows = session.exec(
                select(PracticeAlert)
                .where(PracticeAlert.practice_ods == ods.upper())
                .where(col(PracticeAlert.alert_id) > after)
                .order_by(col(PracticeAlert.alert_id))
                .limit(limit)
            )
            return [alert_view(alert) for alert in rows]

        return {"alerts": await runtime.read(query)}

    @router.get("/messages", tags=["staff"])
    async def messages(
        request: Request, status_: Annotated[str, Query(alias="status")] = "rejected"
    ) -> dict[str, Any]:
        """Messages by status (metadata only; the raw message stays in the store)."""
        authenticate(request, staff)

        def query(session: Session) -> list[dict[str, Any]]:
            rows = session.exec(select(Hl7Message).where(Hl7Message.status == status_).limit(500))
            return [
                m.model_dump(
                    include={
                        "id",
                        "sending_facility",
                        "control_id",
                        "trigger",
                        "status",
                        "ack_code",
                        "error",
                    }
                )
                | {"received_at": _utc(m.received_at)}
                for m in rows
            ]

        return {"messages": await runtime.read(query)}

    @router.post("/messages/{message_id}/reprocess", tags=["staff"], response_class=Response)
    async def reprocess_message(message_id: int, request: Request) -> Response:
        authenticate(request, staff)
        ack = await runtime.transact(lambda uow: reprocess(uow, message_id))
        if ack is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such message")
        return Response(ack, media_type=HL7_MEDIA_TYPE)

    return router
