"""Who is in which programme, from referral and appointment events: the outcomes report's
enrolments (`uow.outcomes`). Idempotent on event_id through the inbox; a late or replayed
older appointment event never undoes a newer one.

A patient is enrolled in a programme from its first attended session, or from the referral's
activation while no session is attended yet. At that date the patient's band, PAM level and
repeat medicines are kept as the baseline (scoring stores only the latest profile, so the value
at enrolment would otherwise be lost); when the date moves (a first session attended after the
activation), the baseline is taken again.
"""

from datetime import datetime
from typing import Final, get_args
from uuid import UUID

import structlog

from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.referral import ReferralEvent, ReferralEventType, ReferralService
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.orm import OutcomeEnrolment
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.handlers import plausible_time, project_referral

log = structlog.get_logger(__name__)
# scheduling.appointments.v1 is the coaching diary: an event of schema version 1 names no
# service, and one whose referral scoring never saw is health coaching.
DEFAULT_PROGRAMME = "health_coaching"
PROGRAMMES: Final = frozenset(get_args(ReferralService))
# The referral events the outcomes read, beside the caseload projection every one updates.
REFERRAL_TYPES = (
    ReferralEventType.ACTIVATED,
    ReferralEventType.COMPLETED,
    ReferralEventType.DISCHARGED,
    ReferralEventType.PATIENT_MERGED,
)
APPOINTMENT_TYPES = (
    AppointmentEventType.ATTENDED,
    AppointmentEventType.DID_NOT_ATTEND,
    AppointmentEventType.CANCELLED,
)


def enrolled_at(enrolment: OutcomeEnrolment) -> datetime | None:
    """When the enrolment began: the first attended session, else the activation."""
    return enrolment.first_attended_at or enrolment.activated_at


def _take_baseline(uow: ScoringUnitOfWork, enrolment: OutcomeEnrolment) -> None:
    began = enrolled_at(enrolment)
    if began is None:
        return
    profile = uow.patients.profile(enrolment.nhs_number)
    enrolment.band = uow.outcomes.band_at(enrolment.nhs_number, began)
    enrolment.pam_level = profile.pam_level if profile else None
    enrolment.repeat_medicines = profile.repeat_medicines if profile else None
    enrolment.profile_as_of = profile.as_of if profile else None


def _enrolment(
    uow: ScoringUnitOfWork,
    nhs_number: str,
    programme: str,
    referral_id: UUID,
    practice: str | None,
) -> OutcomeEnrolment:
    found = uow.outcomes.enrolment(nhs_number, programme)
    if found is None:
        found = OutcomeEnrolment(
            nhs_number=nhs_number,
            programme=programme,
            referral_id=referral_id,
            practice_ods=practice,
            updated_at=uow.clock(),
        )
    elif practice:
        found.practice_ods = practice
    return found


def _save(uow: ScoringUnitOfWork, enrolment: OutcomeEnrolment, began: datetime | None) -> None:
    """Store it, taking the baseline again if the enrolment date moved."""
    if enrolled_at(enrolment) != began:
        _take_baseline(uow, enrolment)
    enrolment.updated_at = uow.clock()
    uow.outcomes.add(enrolment)


def on_referral(uow: ScoringUnitOfWork, event: ReferralEvent) -> None:
    """The caseload projection, then the enrolment the event starts, ends or moves."""
    project_referral(uow, event)  # rejects an invalid NHS number
    uow.patients.lock(event.nhs_number)  # appointment events of the patient may run alongside
    at = plausible_time(event.occurred_at, uow.clock())
    if event.event_type == ReferralEventType.PATIENT_MERGED:
        _merge(uow, event)
        return
    existing = uow.outcomes.enrolment(event.nhs_number, event.service)
    if event.event_type == ReferralEventType.ACTIVATED:
        enrolment = _enrolment(
            uow, event.nhs_number, event.service, event.referral_id, event.practice_ods
        )
        began = None if existing is None else enrolled_at(existing)
        if enrolment.activated_at is None or at < enrolment.activated_at:
            enrolment.activated_at = at
        _save(uow, enrolment, began)
    elif existing is not None:  # completed or discharged: the programme ended
        existing.ended_at = at
        existing.updated_at = uow.clock()
        uow.outcomes.add(existing)


def _merge(uow: ScoringUnitOfWork, event: ReferralEvent) -> None:
    """A40: the referral's enrolment and sessions move to the surviving number; if that number
    is enrolled in the programme already, the two become one (the earlier dates kept)."""
    uow.outcomes.move_sessions(event.referral_id, event.nhs_number)
    for moved in uow.outcomes.enrolments_of_referral(event.referral_id):
        if moved.nhs_number == event.nhs_number:
            continue
        kept = _enrolment(uow, event.nhs_number, moved.programme, moved.referral_id, None)
        began = enrolled_at(kept) if kept.activated_at or kept.first_attended_at else None
        dates = [d for d in (kept.activated_at, moved.activated_at) if d is not None]
        kept.activated_at = min(dates) if dates else None
        kept.practice_ods = kept.practice_ods or moved.practice_ods
        uow.outcomes.remove(moved)
        attended = uow.outcomes.attended(event.nhs_number, kept.programme)
        kept.sessions_attended, kept.first_attended_at = attended.sessions, attended.first_at
        _save(uow, kept, began)


def on_appointment(uow: ScoringUnitOfWork, event: AppointmentEvent) -> None:
    """Keep the appointment's latest state and the enrolment's attended sessions."""
    if not is_valid_nhs_number(event.nhs_number):
        raise RejectedEvent("invalid or placeholder NHS number")
    if event.service is not None and event.service not in PROGRAMMES:
        raise RejectedEvent("service is not a programme referral knows")  # dead-lettered
    uow.patients.lock(event.nhs_number)
    programme = event.service or uow.outcomes.programme_of(event.referral_id) or DEFAULT_PROGRAMME
    uow.outcomes.record_session(
        {
            "appointment_id": event.appointment_id,
            "referral_id": event.referral_id,
            "nhs_number": event.nhs_number,
            "programme": programme,
            "attended": event.event_type == AppointmentEventType.ATTENDED,
            "starts_at": plausible_time(event.starts_at, uow.clock()),
            "changed_at": plausible_time(event.occurred_at, uow.clock()),
        }
    )
    attended = uow.outcomes.attended(event.nhs_number, programme)
    existing = uow.outcomes.enrolment(event.nhs_number, programme)
    if existing is None and attended.sessions == 0:
        return  # a cancellation or a DNA before any session: not enrolled
    enrolment = _enrolment(uow, event.nhs_number, programme, event.referral_id, event.practice_ods)
    began = None if existing is None else enrolled_at(existing)
    enrolment.sessions_attended = attended.sessions
    enrolment.first_attended_at = attended.first_at
    _save(uow, enrolment, began)
    log.debug("programme session recorded", programme=programme, sessions=attended.sessions)
