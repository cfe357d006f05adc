"""The SQL behind scheduling's handlers: the coach roster, appointments and the waiting list.

Each repository is bound to the session of one unit of work. Coaches map to and from the
domain's `Coach`; appointments and waiting-list entries are their ORM rows.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlmodel import Session, col, select

from scheduling.adapters.orm import Appointment, CoachRecord, WaitingListEntry
from scheduling.domain.appointment import OCCUPYING, AppointmentKind, AppointmentStatus
from scheduling.domain.booking import Booking
from scheduling.domain.coach import Coach


def coach_from(record: CoachRecord) -> Coach:
    return Coach.from_json(record.model_dump())


class CoachRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> list[Coach]:
        records = self._session.exec(select(CoachRecord).order_by(col(CoachRecord.coach_id)))
        return [coach_from(r) for r in records]

    def upsert(self, coach: Coach, at: datetime) -> None:
        """Add or replace a coach by coach_id."""
        self._session.merge(CoachRecord(**coach.to_json(), updated_at=at))

    def lock(self, coach_ids: Sequence[str]) -> None:
        """Serialise bookings per coach until commit: PostgreSQL row locks, taken in coach_id
        order so two bookings never wait on each other (SQLite already has a single writer)."""
        if coach_ids:
            query = (
                select(CoachRecord.coach_id)
                .where(col(CoachRecord.coach_id).in_(coach_ids))
                .order_by(col(CoachRecord.coach_id))
                .with_for_update()
            )
            self._session.exec(query).all()


class AppointmentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, appointment: Appointment) -> None:
        self._session.add(appointment)

    def get(self, appointment_id: UUID) -> Appointment | None:
        return self._session.get(Appointment, appointment_id)

    def first_for_referral(self, referral_id: UUID) -> Appointment | None:
        return self._session.exec(
            select(Appointment).where(
                Appointment.referral_id == referral_id, Appointment.kind == AppointmentKind.FIRST
            )
        ).first()

    def booked_for_referral(self, referral_id: UUID) -> list[Appointment]:
        return list(
            self._session.exec(
                select(Appointment).where(
                    Appointment.referral_id == referral_id,
                    Appointment.status == AppointmentStatus.BOOKED,
                )
            )
        )

    def taken_time(self, coach_ids: Sequence[str], start: datetime, end: datetime) -> list[Booking]:
        """Time the coaches have taken that overlaps [start, end)."""
        if not coach_ids:
            return []
        rows = self._session.exec(
            select(Appointment.coach_id, Appointment.starts_at, Appointment.ends_at).where(
                col(Appointment.coach_id).in_(coach_ids),
                col(Appointment.status).in_([str(s) for s in OCCUPYING]),
                col(Appointment.starts_at) < end,
                col(Appointment.ends_at) > start,
            )
        )
        return [Booking(coach_id, starts_at, ends_at) for coach_id, starts_at, ends_at in rows]


class WaitingListRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, entry: WaitingListEntry) -> None:
        self._session.add(entry)

    def get(self, referral_id: UUID) -> WaitingListEntry | None:
        return self._session.get(WaitingListEntry, referral_id)

    def remove(self, entry: WaitingListEntry) -> None:
        self._session.delete(entry)
