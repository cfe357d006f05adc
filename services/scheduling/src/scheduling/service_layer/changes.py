"""Changes to booked sessions: cancel and reschedule by either side (with reasons), the DNA
policy, and the patient's preferences. Each command commits once, or changes nothing."""

from datetime import datetime, timedelta
from uuid import UUID

import structlog

from ensemble_contracts import Envelope
from ensemble_contracts.scheduling import AppointmentEventType
from scheduling.adapters.orm import Appointment, AppointmentChange, PatientPreference
from scheduling.adapters.unit_of_work import SchedulingUnitOfWork
from scheduling.domain.appointment import (
    AppointmentStatus,
    ChangedBy,
    ImpossibleTime,
    InvalidTransition,
    transition,
)
from scheduling.domain.booking import earliest_free_slot
from scheduling.domain.coach import MINUTES_PER_DAY, Coach, InvalidCoach, zone_named
from scheduling.domain.localtime import ImpossibleLocalTime, utc_instant
from scheduling.domain.programme import DnaOutcome, ProgrammeStatus, after_dna
from scheduling.service_layer.commands import (
    CancelAppointment,
    MarkDidNotAttend,
    PutPatientPreference,
    RescheduleAppointment,
    ResumeProgramme,
)
from scheduling.service_layer.events import publish_appointment
from scheduling.service_layer.programmes import (
    MONTH,
    SlotTaken,
    book_from,
    wait,
)
from scheduling.service_layer.programmes import rebook_waiting_list as rebook

log = structlog.get_logger(__name__)


class AppointmentNotFound(LookupError):
    pass


class ProgrammeNotFound(LookupError):
    pass


def found(uow: SchedulingUnitOfWork, appointment_id: UUID) -> Appointment:
    appointment = uow.appointments.get(appointment_id)
    if appointment is None:
        raise AppointmentNotFound(str(appointment_id))
    return appointment


def still_ahead(appointment: Appointment, now: datetime, action: str) -> None:
    """Only a booked appointment that has not started may be cancelled or moved."""
    if appointment.status != AppointmentStatus.BOOKED:
        raise InvalidTransition(f"a {appointment.status} appointment cannot be {action}")
    if appointment.starts_at <= now:
        raise InvalidTransition(f"an appointment in the past cannot be {action}")


def has_started(appointment: Appointment, now: datetime, outcome: str) -> None:
    """What happened at a session is known only once it has begun (HTTP 409 before)."""
    if appointment.status == AppointmentStatus.BOOKED and appointment.starts_at > now:
        raise InvalidTransition(
            f"the appointment starts at {appointment.starts_at.isoformat()}: "
            f"'{outcome}' can be recorded only once it has started"
        )


def change_status(
    uow: SchedulingUnitOfWork,
    appointment: Appointment,
    target: AppointmentStatus,
    cause: Envelope | None,
    by: ChangedBy | None = None,
    reason: str | None = None,
) -> Appointment:
    appointment.status = transition(appointment.status, target)
    appointment.updated_at = uow.clock()
    if target == AppointmentStatus.CANCELLED:
        appointment.changed_by, appointment.change_reason = by or ChangedBy.STAFF, reason
        uow.appointments.record_change(
            AppointmentChange(
                appointment_id=appointment.appointment_id,
                action="cancelled",
                changed_by=appointment.changed_by,
                reason=reason,
                previous_starts_at=appointment.starts_at,
                at=uow.clock(),
            )
        )
    uow.appointments.add(appointment)
    publish_appointment(uow, appointment, cause)
    return appointment


def cancel(uow: SchedulingUnitOfWork, command: CancelAppointment) -> Appointment:
    appointment = found(uow, command.appointment_id)
    still_ahead(appointment, uow.clock(), "cancelled")
    change_status(uow, appointment, AppointmentStatus.CANCELLED, None, command.by, command.reason)
    uow.flush()
    rebook(uow, None)  # the freed slot may suit someone waiting
    uow.commit()
    return appointment


def requested_start(command: RescheduleAppointment, coach: Coach) -> datetime:
    """The UTC start asked for; a wall time in a clock-change gap or overlap is refused."""
    assert command.starts_at is not None
    try:
        zone = zone_named(command.timezone or coach.timezone)
        return utc_instant(command.starts_at, zone)
    except (ImpossibleLocalTime, InvalidCoach) as error:
        raise ImpossibleTime(str(error)) from error


def check_pattern(coach: Coach, start: datetime, end: datetime) -> None:
    """The coach works the whole of [start, end) on their own clock (and is not on leave)."""
    local_start, local_end = start.astimezone(coach.zone), end.astimezone(coach.zone)
    day = local_start.date()
    begin = local_start.hour * 60 + local_start.minute
    finish = (local_end.date() - day).days * MINUTES_PER_DAY + local_end.hour * 60
    finish += local_end.minute
    if (end - start) != timedelta(minutes=finish - begin) or not coach.works(day, begin, finish):
        raise ImpossibleTime(
            f"{local_start:%a %Y-%m-%d %H:%M} {coach.timezone} is outside the coach's "
            "working pattern or leave"
        )


def reschedule(uow: SchedulingUnitOfWork, command: RescheduleAppointment) -> Appointment:
    appointment, now = found(uow, command.appointment_id), uow.clock()
    still_ahead(appointment, now, "rescheduled")
    coach = uow.coaches.get(appointment.coach_id)
    if coach is None:
        raise InvalidTransition("the appointment's coach is no longer on the roster")
    uow.coaches.lock([coach.coach_id])
    length = appointment.ends_at - appointment.starts_at
    if command.starts_at is not None:
        start = requested_start(command, coach)
        if start <= now:
            raise ImpossibleTime("the new time is in the past")
        check_pattern(coach, start, start + length)
        clash = uow.appointments.taken_time(
            [coach.coach_id], start, start + length, excluding=appointment.appointment_id
        )
        if clash:
            raise SlotTaken("the coach already has an appointment at that time")
    else:
        policy = uow.settings.slot_policy
        earliest, latest = policy.window(now)
        taken = uow.appointments.taken_time([coach.coach_id], earliest - MONTH, latest + MONTH)
        slot = earliest_free_slot(coach, sorted(taken, key=lambda b: b.starts_at), policy, now)
        if slot is None:
            raise SlotTaken("the coach has no free slot in the booking horizon")
        start = slot.starts_at
    previous = appointment.starts_at
    appointment.starts_at, appointment.ends_at = start, start + length
    appointment.sequence += 1
    appointment.changed_by, appointment.change_reason = command.by, command.reason
    appointment.updated_at = now
    uow.appointments.add(appointment)
    uow.appointments.record_change(
        AppointmentChange(
            appointment_id=appointment.appointment_id,
            action="rescheduled",
            changed_by=command.by,
            reason=command.reason,
            previous_starts_at=previous,
            new_starts_at=start,
            at=now,
        )
    )
    uow.flush()  # the store's (coach, start) index refuses a concurrent twin here
    publish_appointment(
        uow, appointment, None, AppointmentEventType.RESCHEDULED, previous_starts_at=previous
    )
    rebook(uow, None)
    uow.commit()
    return appointment


def record_dna(uow: SchedulingUnitOfWork, command: MarkDidNotAttend) -> Appointment:
    """A DNA: the programme's first is re-offered once, the second tells the referrer and
    closes or pauses the programme (`SCHEDULING_SECOND_DNA_ACTION`)."""
    appointment = found(uow, command.appointment_id)
    has_started(appointment, uow.clock(), "did not attend")
    change_status(uow, appointment, AppointmentStatus.DID_NOT_ATTEND, None)
    programme = uow.programmes.get(appointment.referral_id)
    if programme is None or programme.status != ProgrammeStatus.ACTIVE:
        uow.commit()  # a referral from before programmes: the outcome is recorded, no policy
        return appointment
    programme.dna_count += 1
    programme.updated_at = uow.clock()
    uow.programmes.add(programme)
    uow.flush()
    if after_dna(programme.dna_count) == DnaOutcome.REOFFER:
        # Offered again from now; later sessions it would overtake are booked again after it.
        waiting = book_from(uow, programme, appointment.session_number, None)
        if waiting is not None:
            wait(uow, programme, *waiting)
    else:
        pause = uow.settings.second_dna_action == "pause"
        programme.status = ProgrammeStatus.PAUSED if pause else ProgrammeStatus.CLOSED
        uow.programmes.add(programme)
        publish_appointment(
            uow,
            appointment,
            None,
            AppointmentEventType.DNA_ESCALATED,
            programme_status=programme.status,
            dna_count=programme.dna_count,
        )
        for later in uow.appointments.booked_for_referral(appointment.referral_id):
            change_status(uow, later, AppointmentStatus.CANCELLED, None, ChangedBy.POLICY)
        entry = uow.waiting_list.get(appointment.referral_id)
        if entry is not None:
            uow.waiting_list.remove(entry)
        uow.flush()
        log.warning(
            "second DNA: referrer told",
            referral_id=str(programme.referral_id),
            programme_status=programme.status,
        )
        rebook(uow, None)
    uow.commit()
    return appointment


def put_preference(uow: SchedulingUnitOfWork, command: PutPatientPreference) -> PatientPreference:
    zone_named(command.timezone)  # InvalidCoach names a bad zone
    preference = PatientPreference(
        nhs_number=command.nhs_number,
        timezone=command.timezone,
        day_start=command.day_start,
        day_end=command.day_end,
        coach_change_requested=command.coach_change_requested,
        updated_at=uow.clock(),
    )
    uow.preferences.put(preference)
    uow.commit()
    return preference


def resume(uow: SchedulingUnitOfWork, command: ResumeProgramme) -> int:
    """Paused by the DNA policy, resumed by staff: DNAs count afresh."""
    programme = uow.programmes.get(command.referral_id)
    if programme is None:
        raise ProgrammeNotFound(str(command.referral_id))
    if programme.status != ProgrammeStatus.PAUSED:
        raise InvalidTransition(f"a {programme.status} programme cannot be resumed")
    programme.status, programme.dna_count = ProgrammeStatus.ACTIVE, 0
    programme.updated_at = uow.clock()
    uow.programmes.add(programme)
    held = {
        a.session_number
        for a in uow.appointments.for_referral(command.referral_id)
        if a.status in (AppointmentStatus.ATTENDED, AppointmentStatus.BOOKED)
    }
    planned = [s.number for s in uow.settings.programme_plan.sessions()]
    following = next((n for n in planned if n not in held), None)
    if following is not None:
        waiting = book_from(uow, programme, following, None)
        if waiting is not None:
            wait(uow, programme, *waiting)
    uow.commit()
    return following or len(planned) + 1
