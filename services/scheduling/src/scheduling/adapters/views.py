"""Read models for the coaching team's HTTP routes: JSON-ready data, straight from the store."""

from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select

from scheduling.adapters.orm import Appointment, WaitingListEntry
from scheduling.adapters.repository import CoachRepository


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": str(appointment.appointment_id),
        "referral_id": str(appointment.referral_id),
        "nhs_number": appointment.nhs_number,
        "coach_id": appointment.coach_id,
        "coach_timezone": appointment.coach_timezone,
        "language": appointment.language,
        "kind": appointment.kind,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "status": appointment.status,
        "created_at": appointment.created_at.isoformat(),
    }


def waiting_view(entry: WaitingListEntry) -> dict[str, Any]:
    return {
        "referral_id": str(entry.referral_id),
        "nhs_number": entry.nhs_number,
        "language": entry.language,
        "reason": entry.reason,
        "created_at": entry.created_at.isoformat(),
    }


def coaches(session: Session) -> list[dict[str, Any]]:
    """The roster by coach_id, in the published coach format."""
    return [coach.to_json() for coach in CoachRepository(session).all()]


def appointments(
    session: Session,
    limit: int,
    nhs_number: str | None = None,
    coach_id: str | None = None,
    referral_id: UUID | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """By start time (then coach); a filter left as None matches any value."""
    given = {
        "nhs_number": nhs_number,
        "coach_id": coach_id,
        "referral_id": referral_id,
        "status": status,
    }
    statement = select(Appointment).filter_by(**{k: v for k, v in given.items() if v is not None})
    ordered = statement.order_by(col(Appointment.starts_at), col(Appointment.coach_id))
    return [appointment_view(a) for a in session.exec(ordered.limit(limit))]


def waiting_list(session: Session) -> list[dict[str, Any]]:
    """Everyone waiting, longest-waiting first."""
    rows = session.exec(select(WaitingListEntry).order_by(col(WaitingListEntry.created_at)))
    return [waiting_view(r) for r in rows]
