"""Queries scheduling runs against its own tables."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select

from scheduling.adapters.orm import Appointment, CoachRecord, WaitingListEntry
from scheduling.domain.appointment import OCCUPYING, AppointmentKind
from scheduling.domain.booking import Booking
from scheduling.domain.coach import Coach


def utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def coach_from(record: CoachRecord) -> Coach:
    return Coach.from_json(record.model_dump())


def record_from(coach: Coach) -> CoachRecord:
    data = coach.to_json()
    return CoachRecord(**data, updated_at=datetime.now(UTC))


def all_coaches(session: Session) -> list[Coach]:
    records = session.exec(select(CoachRecord).order_by(col(CoachRecord.coach_id)))
    return [coach_from(r) for r in records]


def find_appointments(session: Session, limit: int, **given: object) -> list[Appointment]:
    """By start time; `given` are equality filters on Appointment columns, None meaning any."""
    statement = select(Appointment).filter_by(**{k: v for k, v in given.items() if v is not None})
    ordered = statement.order_by(col(Appointment.starts_at), col(Appointment.coach_id))
    return list(session.exec(ordered.limit(limit)))


def first_appointment(session: Session, referral_id: UUID) -> Appointment | None:
    return session.exec(
        select(Appointment).where(
            Appointment.referral_id == referral_id, Appointment.kind == AppointmentKind.FIRST
        )
    ).first()


def booked_for_referral(session: Session, referral_id: UUID) -> list[Appointment]:
    return list(
        session.exec(
            select(Appointment).where(
                Appointment.referral_id == referral_id, Appointment.status == "booked"
            )
        )
    )


def taken_time(
    session: Session, coach_ids: Sequence[str], start: datetime, end: datetime
) -> list[Booking]:
    """Time the coaches have taken that overlaps [start, end)."""
    if not coach_ids:
        return []
    rows = session.exec(
        select(Appointment.coach_id, Appointment.starts_at, Appointment.ends_at).where(
            col(Appointment.coach_id).in_(coach_ids),
            col(Appointment.status).in_([str(s) for s in OCCUPYING]),
            col(Appointment.starts_at) < end,
            col(Appointment.ends_at) > start,
        )
    )
    return [Booking(coach_id, utc(s), utc(e)) for coach_id, s, e in rows]


def lock_coaches(session: Session, coach_ids: Sequence[str]) -> None:
    """Serialise bookings per coach until commit: PostgreSQL row locks, taken in coach_id
    order so two bookings never wait on each other (SQLite already has a single writer)."""
    if coach_ids:
        query = (
            select(CoachRecord.coach_id)
            .where(col(CoachRecord.coach_id).in_(coach_ids))
            .order_by(col(CoachRecord.coach_id))
            .with_for_update()
        )
        session.exec(query).all()


def waiting(session: Session, referral_id: UUID) -> WaitingListEntry | None:
    return session.get(WaitingListEntry, referral_id)


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": str(appointment.appointment_id),
        "referral_id": str(appointment.referral_id),
        "nhs_number": appointment.nhs_number,
        "coach_id": appointment.coach_id,
        "coach_timezone": appointment.coach_timezone,
        "language": appointment.language,
        "kind": appointment.kind,
        "starts_at": utc(appointment.starts_at).isoformat(),
        "ends_at": utc(appointment.ends_at).isoformat(),
        "status": appointment.status,
        "created_at": utc(appointment.created_at).isoformat(),
    }


def waiting_view(entry: WaitingListEntry) -> dict[str, Any]:
    return {
        "referral_id": str(entry.referral_id),
        "nhs_number": entry.nhs_number,
        "language": entry.language,
        "reason": entry.reason,
        "created_at": utc(entry.created_at).isoformat(),
    }
