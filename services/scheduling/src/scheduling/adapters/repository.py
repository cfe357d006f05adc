"""The SQL behind scheduling's handlers: the coach roster, appointments and the waiting list.

Each repository is bound to the session of one unit of work. Coaches map to and from the
domain's `Coach`; appointments and waiting-list entries are their ORM rows.
"""

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from scheduling.adapters.orm import (
    Appointment,
    AppointmentChange,
    CalendarLink,
    CoachRecord,
    PatientPreference,
    Programme,
    ReminderSent,
    WaitingListEntry,
)
from scheduling.domain.appointment import OCCUPYING, AppointmentKind, AppointmentStatus
from scheduling.domain.booking import Booking
from scheduling.domain.coach import Coach

APPOINTMENTS = cast(Table, Appointment.__table__)  # type: ignore[attr-defined]


def coach_from(record: CoachRecord) -> Coach:
    # Every booking reads the whole roster: a coach is parsed once per version of its row.
    published = record.model_dump(exclude={"updated_at"})
    return _parsed_coach(json.dumps(published, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _parsed_coach(published: str) -> Coach:
    return Coach.from_json(json.loads(published))


class CoachRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def all(self) -> list[Coach]:
        records = self._session.exec(select(CoachRecord).order_by(col(CoachRecord.coach_id)))
        return [coach_from(r) for r in records]

    def get(self, coach_id: str) -> Coach | None:
        record = self._session.get(CoachRecord, coach_id)
        return coach_from(record) if record else None

    def put_calendar_link(self, link: CalendarLink) -> None:
        """The coach's one link: a new one replaces (revokes) the old."""
        self._session.merge(link)

    def drop_calendar_link(self, coach_id: str) -> bool:
        link = self._session.get(CalendarLink, coach_id)
        if link is not None:
            self._session.delete(link)
        return link is not None

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

    def taken_time(
        self,
        coach_ids: Sequence[str],
        start: datetime,
        end: datetime,
        excluding: UUID | None = None,
    ) -> list[Booking]:
        """Time the coaches have taken that overlaps [start, end) (but `excluding`'s)."""
        if not coach_ids:
            return []
        table = APPOINTMENTS
        query = sa_select(table.c.coach_id, table.c.starts_at, table.c.ends_at).where(
            table.c.coach_id.in_(coach_ids),
            table.c.status.in_([str(s) for s in OCCUPYING]),
            table.c.starts_at < end,
            table.c.ends_at > start,
        )
        if excluding is not None:
            query = query.where(table.c.appointment_id != excluding)
        # Core on the unit of work's connection: a booking reads every candidate coach's
        # window, and ORM row handling was most of that read's cost.
        self._session.flush()
        rows = self._session.connection().execute(query)
        return [Booking(coach_id, starts_at, ends_at) for coach_id, starts_at, ends_at in rows]

    def for_referral(self, referral_id: UUID) -> list[Appointment]:
        """The referral's appointments by start."""
        query = select(Appointment).where(Appointment.referral_id == referral_id)
        return list(self._session.exec(query.order_by(col(Appointment.starts_at))))

    def latest_coach_of(self, nhs_number: str) -> str | None:
        """The coach of the patient's latest session that was not cancelled (continuity)."""
        query = (
            select(Appointment.coach_id)
            .where(Appointment.nhs_number == nhs_number, Appointment.status != "cancelled")
            .order_by(col(Appointment.starts_at).desc())
        )
        return self._session.exec(query).first()

    def record_change(self, change: AppointmentChange) -> None:
        self._session.add(change)

    def upcoming(
        self, after: datetime, until: datetime, limit: int
    ) -> list[tuple[Appointment, set[str]]]:
        """Booked appointments starting in (after, until], with the reminders already sent
        for their current time."""
        query = (
            select(Appointment)
            .where(
                Appointment.status == AppointmentStatus.BOOKED,
                col(Appointment.starts_at) > after,
                col(Appointment.starts_at) <= until,
            )
            .order_by(col(Appointment.starts_at))
            .limit(limit)
        )
        found = list(self._session.exec(query))
        sent: dict[UUID, set[str]] = {a.appointment_id: set() for a in found}
        if found:
            rows = self._session.exec(
                select(ReminderSent).where(col(ReminderSent.appointment_id).in_(list(sent)))
            )
            versions = {a.appointment_id: a.sequence for a in found}
            for row in rows:
                if versions[row.appointment_id] == row.sequence:
                    sent[row.appointment_id].add(row.reminder)
        return [(a, sent[a.appointment_id]) for a in found]

    def mark_reminded(self, row: ReminderSent) -> None:
        self._session.add(row)


class ProgrammeRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, programme: Programme) -> None:
        self._session.add(programme)

    def get(self, referral_id: UUID) -> Programme | None:
        return self._session.get(Programme, referral_id)


class PatientPreferenceRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, nhs_number: str) -> PatientPreference | None:
        return self._session.get(PatientPreference, nhs_number)

    def put(self, preference: PatientPreference) -> None:
        self._session.merge(preference)


class WaitingListRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, entry: WaitingListEntry) -> None:
        self._session.add(entry)

    def get(self, referral_id: UUID) -> WaitingListEntry | None:
        return self._session.get(WaitingListEntry, referral_id)

    def remove(self, entry: WaitingListEntry) -> None:
        self._session.delete(entry)

    def oldest(self, limit: int) -> list[WaitingListEntry]:
        query = select(WaitingListEntry).order_by(col(WaitingListEntry.created_at))
        return list(self._session.exec(query.limit(limit)))
