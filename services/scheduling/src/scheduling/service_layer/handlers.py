"""Use cases: keep the coach roster, book first appointments, record what happened.

Consumer handlers (`referral_handlers`) run inside the runtime's transaction and do not commit;
commands (`upsert_coaches`, `mark_attended`, ...) commit their own unit of work. Every change
of an appointment publishes its AppointmentEvent in the same transaction.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from ensemble_contracts import Envelope
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_contracts.topics import APPOINTMENTS
from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters import repository as repo
from scheduling.adapters.orm import Appointment, WaitingListEntry
from scheduling.domain.appointment import AppointmentKind, AppointmentStatus, transition
from scheduling.domain.booking import Choice, WaitingReason, choose, coaches_for
from scheduling.domain.coach import Coach
from scheduling.domain.slots import SlotPolicy

PRODUCER = "scheduling"
# Bookings this far either side of the window count towards "fewest bookings that week".
WEEK = timedelta(days=7)

log = structlog.get_logger(__name__)
Clock = Callable[[], datetime]
ReferralHandler = Callable[[UnitOfWork, ReferralEvent], None]

_EVENT_TYPES = {
    AppointmentStatus.BOOKED: AppointmentEventType.BOOKED,
    AppointmentStatus.CANCELLED: AppointmentEventType.CANCELLED,
    AppointmentStatus.ATTENDED: AppointmentEventType.ATTENDED,
    AppointmentStatus.DID_NOT_ATTEND: AppointmentEventType.DID_NOT_ATTEND,
}


class AppointmentNotFound(LookupError):
    pass


class SlotTaken(RuntimeError):
    """A chosen slot was found taken (should not happen under the lock); the runtime retries."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def upsert_coaches(uow: UnitOfWork, coaches: Sequence[Coach]) -> int:
    """Add or replace coaches by coach_id. Existing appointments are left as they are."""
    for coach in sorted(coaches, key=lambda c: c.coach_id):  # the booking lock order
        uow.session.merge(repo.record_from(coach))
    uow.commit()
    return len(coaches)


def _publish(uow: UnitOfWork, appointment: Appointment, cause: Envelope | None) -> None:
    envelope = cause.caused(producer=PRODUCER) if cause else {"producer": PRODUCER}
    uow.publish(
        APPOINTMENTS,
        AppointmentEvent(
            **envelope,
            event_type=_EVENT_TYPES[AppointmentStatus(appointment.status)],
            appointment_id=appointment.appointment_id,
            referral_id=appointment.referral_id,
            nhs_number=appointment.nhs_number,
            coach_id=appointment.coach_id,
            language=appointment.language,
            starts_at=repo.utc(appointment.starts_at),
            ends_at=repo.utc(appointment.ends_at),
            coach_timezone=appointment.coach_timezone,
        ),
    )


def book_first_appointment(
    uow: UnitOfWork, event: ReferralEvent, policy: SlotPolicy, now: datetime
) -> Appointment | None:
    """An accepted referral gets one first appointment, or a place on the waiting list."""
    session = uow.session
    if repo.first_appointment(session, event.referral_id) or repo.waiting(
        session, event.referral_id
    ):
        return None  # already handled: a re-sent or re-accepted referral
    coaches = {c.coach_id: c for c in repo.all_coaches(session)}
    _, speakers = coaches_for(coaches.values(), event.preferred_language)
    # Lock before reading their diaries: a concurrent booking for any of these coaches waits
    # for this transaction, so the free time read below stays free until commit.
    repo.lock_coaches(session, [c.coach_id for c in speakers])
    earliest, latest = policy.window(now)
    taken = repo.taken_time(session, [c.coach_id for c in speakers], earliest - WEEK, latest + WEEK)
    decision = choose(speakers, event.preferred_language, taken, policy, now)
    if isinstance(decision, WaitingReason):
        _wait(uow, event, decision)
        return None
    # Belt and braces under the lock: the chosen time must still be free.
    slot = decision.slot
    if repo.taken_time(session, [decision.coach_id], slot.starts_at, slot.ends_at):
        raise SlotTaken("the chosen slot was taken concurrently")
    return _book(uow, event, decision, coaches[decision.coach_id])


def _book(uow: UnitOfWork, event: ReferralEvent, choice: Choice, coach: Coach) -> Appointment:
    appointment = Appointment(
        referral_id=event.referral_id,
        nhs_number=event.nhs_number,
        coach_id=coach.coach_id,
        coach_timezone=coach.timezone,
        language=choice.language,
        starts_at=choice.slot.starts_at,
        ends_at=choice.slot.ends_at,
        status=AppointmentStatus.BOOKED,
        kind=AppointmentKind.FIRST,
    )
    uow.session.add(appointment)
    uow.session.flush()  # the unique indexes speak now, inside this transaction
    _publish(uow, appointment, event)
    log.info(
        "first appointment booked",
        appointment_id=str(appointment.appointment_id),
        referral_id=str(event.referral_id),
        coach_id=coach.coach_id,
        language=choice.language,
    )
    return appointment


def _wait(uow: UnitOfWork, event: ReferralEvent, reason: WaitingReason) -> None:
    uow.session.add(
        WaitingListEntry(
            referral_id=event.referral_id,
            nhs_number=event.nhs_number,
            language=event.preferred_language,
            reason=reason,
        )
    )
    log.warning(
        "referral put on the waiting list", referral_id=str(event.referral_id), reason=reason
    )


def close_referral(uow: UnitOfWork, event: ReferralEvent) -> None:
    """A withdrawn or declined referral: cancel what is still booked, leave the waiting list."""
    for appointment in repo.booked_for_referral(uow.session, event.referral_id):
        _change(uow, appointment, AppointmentStatus.CANCELLED, event)
    entry = repo.waiting(uow.session, event.referral_id)
    if entry is not None:
        uow.session.delete(entry)


def _change(
    uow: UnitOfWork, appointment: Appointment, target: AppointmentStatus, cause: Envelope | None
) -> Appointment:
    appointment.status = transition(appointment.status, target)
    appointment.updated_at = utc_now()
    uow.session.add(appointment)
    _publish(uow, appointment, cause)
    return appointment


def _command(target: AppointmentStatus) -> Callable[[UnitOfWork, UUID], Appointment]:
    def run(uow: UnitOfWork, appointment_id: UUID) -> Appointment:
        appointment = uow.session.get(Appointment, appointment_id)
        if appointment is None:
            raise AppointmentNotFound(str(appointment_id))
        _change(uow, appointment, target, None)
        uow.commit()
        return appointment

    run.__name__ = f"mark_{target}"
    return run


mark_attended = _command(AppointmentStatus.ATTENDED)
mark_did_not_attend = _command(AppointmentStatus.DID_NOT_ATTEND)
cancel = _command(AppointmentStatus.CANCELLED)


def referral_handlers(policy: SlotPolicy, clock: Clock = utc_now) -> dict[str, ReferralHandler]:
    """What the `scheduling.referrals` consumer does with each referral event type."""

    def accepted(uow: UnitOfWork, event: ReferralEvent) -> None:
        book_first_appointment(uow, event, policy, clock())

    handlers: dict[str, Any] = {
        ReferralEventType.ACCEPTED: accepted,
        ReferralEventType.WITHDRAWN: close_referral,
        ReferralEventType.DECLINED: close_referral,
    }
    return handlers
