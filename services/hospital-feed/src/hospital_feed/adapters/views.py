"""Read models for HTTP: JSON-ready listings of alerts and stored messages."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from hospital_feed.adapters.orm import Hl7Message, MessageStatus, PracticeAlert

Row = TypeVar("Row", PracticeAlert, Hl7Message)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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


def _page(
    session: Session, query: SelectOfScalar[Row], key: int | None, after: int, limit: int
) -> Sequence[Row]:
    """At most `limit` rows of `query` with `key` above `after`, in `key` order (oldest first)."""
    return session.exec(query.where(col(key) > after).order_by(col(key)).limit(limit)).all()


def practice_alerts(
    session: Session, practice_ods: str, after: int, limit: int
) -> list[dict[str, Any]]:
    """A practice's alerts with ids above `after`, oldest first."""
    query = select(PracticeAlert).where(PracticeAlert.practice_ods == practice_ods)
    rows = _page(session, query, PracticeAlert.alert_id, after, limit)
    return [alert_view(alert) for alert in rows]


def messages(
    session: Session, status: MessageStatus, after: int, limit: int
) -> list[dict[str, Any]]:
    """Stored messages with one status and ids above `after`, oldest first (never the raw)."""
    query = select(Hl7Message).where(Hl7Message.status == status)
    rows = _page(session, query, Hl7Message.id, after, limit)
    return [message_view(message) for message in rows]
