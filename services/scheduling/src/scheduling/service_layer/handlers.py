"""Use cases: keep the coach roster, book first appointments, record outcomes."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlmodel import col, select

from ensemble_contracts import Envelope
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_contracts.topics import APPOINTMENTS
from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters.orm import Appointment, CoachRecord, WaitingListEntry
from scheduling.domain.coaching import Booking, Coach, choose_slot

PRODUCER = "scheduling"
APPOINTMENT_MINUTES = 30
LEAD_TIME = timedelta(hours=1)
HORIZON_DAYS = 21
_OUTCOMES = {
    "attended": AppointmentEventType.ATTENDED,
    "did_not_attend": AppointmentEventType.DID_NOT_ATTEND,
    "cancelled": AppointmentEventType.CANCELLED,
}


class InvalidAppointmentChange(Exception):
    pass


def coach_from(record: CoachRecord) -> Coach:
    return Coach(
        coach_id=record.coach_id,
        languages=frozenset(language.lower() for language in record.languages),
        timezone=record.timezone,
        weekly_hours={
            day: [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in ranges]
            for day, ranges in record.weekly_hours.items()
        },
    )


def upsert_coaches(uow: UnitOfWork, coaches: Sequence[CoachRecord]) -> int:
    for coach in coaches:
        coach_from(coach)  # validates the zone and times before anything is stored
        uow.session.merge(coach)
    uow.commit()
    return len(coaches)


def _publish(
    uow: UnitOfWork, appointment: Appointment, event_type: str, cause: Envelope | None
) -> None:
    envelope = cause.caused(producer=PRODUCER) if cause else {"producer": PRODUCER}
    uow.publish(
        APPOINTMENTS,
        AppointmentEvent(
            **envelope,
            event_type=event_type,
            appointment_id=appointment.appointment_id,
            referral_id=appointment.referral_id,
            nhs_number=appointment.nhs_number,
            coach_id=appointment.coach_id,
            language=appointment.language,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            coach_timezone=appointment.coach_timezone,
        ),
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


def book_first_appointment(uow: UnitOfWork, event: ReferralEvent) -> None:
    """An accepted referral gets one first appointment, or a place on the waiting list."""
    session = uow.session
    if session.exec(
        select(Appointment.appointment_id).where(
            Appointment.first_for_referral == event.referral_id
        )
    ).first() or session.get(WaitingListEntry, event.referral_id):
        return
    records = {c.coach_id: c for c in session.exec(select(CoachRecord).where(CoachRecord.active))}
    earliest = datetime.now(UTC) + LEAD_TIME
    booked = [
        Booking(a.coach_id, _utc(a.starts_at), _utc(a.ends_at))
        for a in session.exec(
            select(Appointment).where(
                Appointment.status == "booked",
                col(Appointment.ends_at) > earliest,
            )
        )
    ]
    choice = choose_slot(
        [coach_from(r) for r in records.values()],
        event.preferred_language,
        booked,
        earliest,
        APPOINTMENT_MINUTES,
        HORIZON_DAYS,
    )
    if choice is None:
        reason = "no coach" if not records else f"no free slot in {HORIZON_DAYS} days"
        session.add(
            WaitingListEntry(
                referral_id=event.referral_id,
                nhs_number=event.nhs_number,
                language=event.preferred_language,
                reason=reason,
            )
        )
        return
    appointment = Appointment(
        referral_id=event.referral_id,
        first_for_referral=event.referral_id,
        nhs_number=event.nhs_number,
        coach_id=choice.coach_id,
        coach_timezone=records[choice.coach_id].timezone,
        language=choice.language,
        starts_at=choice.starts_at,
        ends_at=choice.ends_at,
    )
    session.add(appointment)
    _publish(uow, appointment, AppointmentEventType.BOOKED, event)


def cancel_for_closed_referral(uow: UnitOfWork, event: ReferralEvent) -> None:
    for appointment in uow.session.exec(
        select(Appointment).where(
            Appointment.referral_id == event.referral_id, Appointment.status == "booked"
        )
    ):
        appointment.status = "cancelled"
        uow.session.add(appointment)
        _publish(uow, appointment, AppointmentEventType.CANCELLED, event)


def record_outcome(uow: UnitOfWork, appointment_id: UUID, outcome: str) -> Appointment | None:
    appointment = uow.session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    if appointment.status != "booked":
        raise InvalidAppointmentChange(f"a {appointment.status} appointment cannot be {outcome}")
    appointment.status = outcome
    uow.session.add(appointment)
    _publish(uow, appointment, _OUTCOMES[outcome], None)
    uow.commit()
    return appointment


REFERRAL_HANDLERS: dict[str, Callable[[UnitOfWork, Any], None]] = {
    ReferralEventType.ACCEPTED: book_first_appointment,
    ReferralEventType.DECLINED: cancel_for_closed_referral,
    ReferralEventType.WITHDRAWN: cancel_for_closed_referral,
}
