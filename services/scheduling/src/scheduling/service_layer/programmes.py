"""Booking a referral's programme ahead, and the waiting list when nobody can take it.

Each session is booked with the coaches of the referral's team who speak the patient's
language locked first (PostgreSQL row locks in coach_id order; SQLite has one writer), so the
free time read stays free until commit; the store's unique index on (coach, start) is the last
word. A session nobody can take puts the referral on the waiting list from that session on.
"""

from datetime import datetime, timedelta

import structlog

from ensemble_contracts import Envelope
from scheduling.adapters.orm import Appointment, AppointmentChange, Programme, WaitingListEntry
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.appointment import AppointmentStatus, ChangedBy, transition
from scheduling.domain.booking import Choice, Need, WaitingReason, choose, coaches_for
from scheduling.domain.coach import Coach
from scheduling.domain.programme import ProgrammeStatus
from scheduling.domain.slots import PatientDay
from scheduling.service_layer.events import publish_appointment

# Bookings this far either side of a window count towards the week's and the month's load.
MONTH = timedelta(days=32)
REPLANNED = "re-planned after an earlier session was offered again"

log = structlog.get_logger(__name__)


class SlotTaken(RuntimeError):
    """A chosen slot was found taken (should not happen under the lock); the runtime retries."""


def patient_need(
    uow: SchedulingUnitOfWork, programme: Programme, window: tuple[datetime, datetime] | None
) -> Need:
    """The team, continuity and the patient's own hours for one booking."""
    preference = uow.preferences.get(programme.nhs_number)
    previous = uow.appointments.latest_coach_of(programme.nhs_number)
    day = None
    if preference is not None:
        day = PatientDay(preference.timezone, preference.day_start, preference.day_end)
    if preference is not None and preference.coach_change_requested and previous:
        return Need(programme.service, None, frozenset({previous}), window, day)
    return Need(programme.service, previous, frozenset(), window, day)


def book_session(
    uow: SchedulingUnitOfWork,
    programme: Programme,
    number: int,
    cause: Envelope | None,
    window: tuple[datetime, datetime] | None = None,
) -> Appointment | WaitingReason:
    """Book session `number` of the programme inside `window` (the policy's from now)."""
    policy, now = uow.settings.slot_policy, uow.clock()
    coaches = {c.coach_id: c for c in uow.coaches.all()}
    _, speakers = coaches_for(coaches.values(), programme.language, programme.service)
    speaker_ids = [c.coach_id for c in speakers]
    uow.coaches.lock(speaker_ids)
    earliest, latest = window or policy.window(now)
    taken = uow.appointments.taken_time(speaker_ids, earliest - MONTH, latest + MONTH)
    need = patient_need(uow, programme, window)
    decision = choose(speakers, programme.language, taken, policy, now, need)
    if isinstance(decision, WaitingReason):
        return decision
    slot = decision.slot
    if uow.appointments.taken_time([decision.coach_id], slot.starts_at, slot.ends_at):
        raise SlotTaken("the chosen slot was taken concurrently")
    return _book(uow, programme, number, decision, coaches[decision.coach_id], cause)


def book_from(
    uow: SchedulingUnitOfWork, programme: Programme, first: int, cause: Envelope | None
) -> tuple[int, WaitingReason] | None:
    """Book sessions `first`.. of the plan that are not held already (booked or attended);
    where one cannot be booked, its number and why."""
    plan, now, policy = uow.settings.programme_plan, uow.clock(), uow.settings.slot_policy
    appointments = uow.appointments.for_referral(programme.referral_id)
    earlier = [
        a
        for a in appointments
        if a.status != AppointmentStatus.CANCELLED and a.session_number < first
    ]
    held = {
        a.session_number: a
        for a in appointments
        if a.status in (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED)
    }
    previous_start = earlier[-1].starts_at if earlier else None
    previous_end = earlier[-1].ends_at if earlier else None
    for session in plan.sessions()[first - 1 :]:
        kept = held.get(session.number)
        if kept is not None and out_of_order(kept, previous_end):
            # A re-offered session landed on or after this one: book this one again after it.
            replan(uow, kept)
            kept = None
        if kept is not None:  # e.g. the later sessions, when a re-offer waited
            previous_start, previous_end = kept.starts_at, kept.ends_at
            continue
        window = None
        if session.number > 1 and previous_start is not None:
            target = plan.target(session.number, previous_start, now)
            window = (target, target + policy.horizon)
        booked = book_session(uow, programme, session.number, cause, window)
        if isinstance(booked, WaitingReason):
            return session.number, booked
        previous_start, previous_end = booked.starts_at, booked.ends_at
    return None


def out_of_order(later: Appointment, previous_end: datetime | None) -> bool:
    """A booked later session that no longer comes after the session before it ended."""
    return (
        later.status == AppointmentStatus.BOOKED
        and previous_end is not None
        and later.starts_at < previous_end
    )


def replan(uow: SchedulingUnitOfWork, later: Appointment) -> None:
    """Cancel a later session by policy so that the programme books it again in order."""
    later.status = transition(later.status, AppointmentStatus.CANCELLED)
    later.changed_by, later.change_reason = ChangedBy.POLICY, REPLANNED
    later.updated_at = uow.clock()
    uow.appointments.record_change(
        AppointmentChange(
            appointment_id=later.appointment_id,
            action="cancelled",
            changed_by=ChangedBy.POLICY,
            reason=REPLANNED,
            previous_starts_at=later.starts_at,
            at=uow.clock(),
        )
    )
    uow.appointments.add(later)
    uow.flush()  # frees the (referral, session) and (coach, start) indexes for the new one
    publish_appointment(uow, later, None)
    log.info(
        "later session re-planned after a re-offer",
        appointment_id=str(later.appointment_id),
        session_number=later.session_number,
    )


def _book(
    uow: SchedulingUnitOfWork,
    programme: Programme,
    number: int,
    choice: Choice,
    coach: Coach,
    cause: Envelope | None,
) -> Appointment:
    now = uow.clock()
    appointment = Appointment(
        referral_id=programme.referral_id,
        nhs_number=programme.nhs_number,
        practice_ods=programme.practice_ods,
        service=programme.service,
        coach_id=coach.coach_id,
        coach_timezone=coach.timezone,
        language=choice.language,
        starts_at=choice.slot.starts_at,
        ends_at=choice.slot.ends_at,
        status=AppointmentStatus.BOOKED,
        kind=uow.settings.programme_plan.session(number).kind,
        session_number=number,
        created_at=now,
        updated_at=now,
    )
    uow.appointments.add(appointment)
    uow.flush()  # the unique indexes speak now, inside this transaction
    publish_appointment(uow, appointment, cause)
    log.info(
        "session booked",
        appointment_id=str(appointment.appointment_id),
        referral_id=str(programme.referral_id),
        session_number=number,
        coach_id=coach.coach_id,
        language=choice.language,
    )
    return appointment


def wait(
    uow: SchedulingUnitOfWork, programme: Programme, number: int, reason: WaitingReason
) -> None:
    """Put (or keep) the referral on the waiting list from session `number`."""
    entry = uow.waiting_list.get(programme.referral_id)
    if entry is None:
        entry = WaitingListEntry(
            referral_id=programme.referral_id,
            nhs_number=programme.nhs_number,
            language=programme.language,
            reason=reason,
            session_number=number,
            created_at=uow.clock(),
        )
    entry.reason, entry.session_number = reason, number
    uow.waiting_list.add(entry)
    log.warning(
        "referral put on the waiting list",
        referral_id=str(programme.referral_id),
        session_number=number,
        reason=reason,
    )


def book_programme(uow: SchedulingUnitOfWork, programme: Programme, cause: Envelope | None) -> None:
    waiting = book_from(uow, programme, 1, cause)
    if waiting is not None:
        wait(uow, programme, *waiting)


def rebook_waiting_list(uow: SchedulingUnitOfWork, cause: Envelope | None) -> int:
    """Capacity freed (a cancellation, a reschedule, new coaches or hours): try the oldest
    waiting referrals again. Returns how many sessions it booked."""
    booked = 0
    for entry in uow.waiting_list.oldest(uow.settings.waiting_list_rebook_batch):
        programme = uow.programmes.get(entry.referral_id)
        if programme is None or programme.status != ProgrammeStatus.ACTIVE:
            continue  # a referral from before programmes, or paused: staff see it listed
        still = book_from(uow, programme, entry.session_number, cause)
        stopped_at = still[0] if still else len(uow.settings.programme_plan.sessions()) + 1
        booked += stopped_at - entry.session_number
        if still is None:
            uow.waiting_list.remove(entry)
            log.info("waiting referral booked", referral_id=str(entry.referral_id))
        else:
            entry.session_number, entry.reason = still[0], still[1]
            uow.waiting_list.add(entry)
    return booked
