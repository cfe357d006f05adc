"""Command and event handlers of the scoring service: one unit of work each.

Hospital encounters (Kafka) end in `rescore` (profile loads in its batch form,
`profile_loads.rescore_patients`), which scores with the active model (read with the
patient's inputs: `_inputs`), stores the score and publishes `ScoreChanged` only when the band
changes (or on a patient's first score). Referral events only keep the caseload projection
the practice worklist reads.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import (
    HotOnboarding,
    HotOnboardingEventType,
    ScoreReason,
)
from ensemble_contracts.topics import HOT_ONBOARDING
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.repository import VisitTrigger
from scoring.adapters.rescore_reads import RescoreInputs
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.domain.hot_onboarding import TriggerCheck, decide, trigger_kind, withdraws
from scoring.domain.model import PatientProfile, RiskModel, RiskScore
from scoring.domain.stays import STAY_EVENTS, with_stays
from scoring.service_layer.scores import ScoreWrites, reasons_of

PRODUCER = "scoring"
log = structlog.get_logger(__name__)


def event_time(event: EncounterEvent, received: datetime) -> datetime:
    """When the encounter happened; the contract lets a time come without an offset: UTC.

    `event_at` is a clinical time the contract keeps within 1900-2199. Without it, the
    envelope's `occurred_at` (the producer's clock, unchecked) stands in; one outside that
    range would make the score's arithmetic overflow, so the time it was received is used.
    """
    return plausible_time(event.event_at or event.occurred_at, received)


def plausible_time(moment: datetime, received: datetime) -> datetime:
    """`moment` in UTC (naive means UTC), or `received` when it lies outside 1900-2199."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    if not limits.EARLIEST <= aware < limits.LATEST:
        log.warning("implausible event time, using the time received")
        return received
    return aware.astimezone(UTC)


# --- scoring ---------------------------------------------------------------------------------


def rescore(
    uow: ScoringUnitOfWork,
    nhs_number: str,
    as_of: datetime,
    envelope: Mapping[str, Any],
    practice_hint: str | None = None,
) -> RiskScore:
    """Score a patient now, store it, and publish `ScoreChanged` if the band moved."""
    return _rescore(uow, nhs_number, as_of, envelope, practice_hint).risk


@dataclass(frozen=True)
class Rescored:
    """A rescore's outcome, with what it read and made, for the caller to reuse."""

    risk: RiskScore
    profile: PatientProfile | None
    trigger: VisitTrigger | None = None  # the visit's hot-onboarding trigger, when asked

    @property
    def reasons(self) -> list[ScoreReason]:
        return reasons_of(self.risk)


def _rescore(
    uow: ScoringUnitOfWork,
    nhs_number: str,
    as_of: datetime,
    envelope: Mapping[str, Any],
    practice_hint: str | None,
    visit: tuple[str, str] | None = None,
    refresh: tuple[str, str] | None = None,
) -> Rescored:
    """Rescore; with `visit` (facility, visit key), also read that visit's trigger; with
    `refresh` (facility, visit number), first walk that visit's stay again (`stays.refresh`)."""
    # One rescore of a patient at a time, or two could each see the old band and both publish.
    uow.patients.lock(nhs_number)
    model, read = _inputs(uow, nhs_number, as_of, visit)
    window = model.hospital_window_days
    # Bed days of an open stay count up to now, however late its events arrive.
    upto = max(as_of, uow.clock())
    since = upto - timedelta(days=window)
    if refresh is not None:
        stays = uow.stays.refresh_and_stays(nhs_number, *refresh, since)
    else:
        stays = uow.stays.stays([nhs_number], since).get(nhs_number, [])
    profile = read.profile
    use = with_stays(read.use, stays, upto, window)
    risk = model.score(profile, use, as_of.date())
    practice = (profile.practice_ods if profile else None) or practice_hint
    writes = ScoreWrites(uow, envelope)
    writes.add(
        nhs_number,
        risk,
        read.previous_band,
        practice or uow.encounters.last_practice_seen(nhs_number),
    )
    writes.flush()
    return Rescored(risk, profile, read.trigger)


def _inputs(
    uow: ScoringUnitOfWork, nhs_number: str, as_of: datetime, visit: tuple[str, str] | None
) -> tuple[RiskModel, RescoreInputs]:
    """The active model and the patient's inputs (profile, current band, hospital use in the
    model's window, the visit's trigger), read together: the window is the last active
    model's, read again in the rare case the active model has another."""
    facility, visit_number = visit if visit is not None else (None, None)
    window = uow.models.last_active().hospital_window_days
    while True:
        read = uow.rescore_reads.inputs(nhs_number, as_of, window, facility, visit_number)
        model = uow.models.active_of(read.active_version, read.active_digest)
        if model.hospital_window_days == window:
            return model, read
        window = model.hospital_window_days


# --- hospital encounters ---------------------------------------------------------------------


def handle_encounter(uow: ScoringUnitOfWork, event: EncounterEvent) -> None:
    """Record the encounter, rescore, then trigger or withdraw hot onboarding."""
    if not is_valid_nhs_number(event.nhs_number):
        raise RejectedEvent("invalid or placeholder NHS number")
    at = event_time(event, uow.clock())
    recorded_now = uow.encounters.record(
        {
            "event_id": event.event_id,
            "nhs_number": event.nhs_number,
            "event_type": event.event_type,
            "emergency": event.emergency,
            "practice_ods": event.practice_ods,
            "facility": event.sending_facility,
            "visit_number": event.visit_number,
            "event_at": at,
            "cancelled": False,
            "received_at": uow.clock(),
            "patient_class": event.patient_class,
            "previous_patient_class": event.previous_patient_class,
        }
    )
    if not recorded_now:
        return  # already recorded (the inbox normally catches this first)
    if withdraws(event.event_type) and event.visit_number:
        uow.encounters.cancel_visit(event.nhs_number, event.sending_facility, event.visit_number)
    refresh = None  # the visit whose stay the rescore walks again
    if event.visit_number:
        undone = _UNDOES.get(event.event_type)
        if undone is not None:  # A13, A12: the visit's latest discharge or transfer is undone
            uow.stays.cancel_latest(
                event.nhs_number, event.sending_facility, event.visit_number, undone
            )
        if undone is not None or withdraws(event.event_type) or event.event_type in STAY_EVENTS:
            refresh = (event.sending_facility, event.visit_number)

    envelope = event.caused(producer=PRODUCER)
    # The trigger rule reads the visit's trigger: an admission's by its visit key, a
    # withdrawal's by its visit number (none: nothing to withdraw).
    visit = None
    if withdraws(event.event_type):
        visit = (event.sending_facility, event.visit_number) if event.visit_number else None
    elif trigger_kind(event.event_type, event.emergency) is not None:
        visit = (event.sending_facility, visit_key(event))
    rescored = _rescore(uow, event.nhs_number, at, envelope, event.practice_ods, visit, refresh)
    if withdraws(event.event_type):
        _withdraw(uow, event, rescored)
    elif trigger_kind(event.event_type, event.emergency) is not None:
        _maybe_trigger(uow, event, rescored)


# A cancellation, and the event type whose latest event of the visit it undoes.
_UNDOES = {
    EncounterEventType.DISCHARGE_CANCELLED: EncounterEventType.DISCHARGED,
    EncounterEventType.TRANSFER_CANCELLED: EncounterEventType.TRANSFERRED,
}


def project_referral(uow: ScoringUnitOfWork, event: ReferralEvent) -> None:
    """The patient's referral status per service (the worklist's caseload): newest wins."""
    if not is_valid_nhs_number(event.nhs_number):
        raise RejectedEvent("invalid or placeholder NHS number")
    uow.caseloads.record(
        {
            "nhs_number": event.nhs_number,
            "service": event.service,
            "referral_id": event.referral_id,
            "status": event.status,
            "practice_ods": event.practice_ods,
            "updated_at": plausible_time(event.occurred_at, uow.clock()),
            "event_id": event.event_id,
        }
    )


def visit_key(event: EncounterEvent) -> str:
    """The visit a trigger belongs to; without a visit number, the event stands alone."""
    return event.visit_number or f"event:{event.event_id}"


def _maybe_trigger(uow: ScoringUnitOfWork, event: EncounterEvent, rescored: Rescored) -> None:
    risk = rescored.risk
    known = rescored.profile or PatientProfile()
    practice = known.practice_ods or event.practice_ods
    visit = visit_key(event)
    existing = rescored.trigger  # read with the rescore's inputs, for this visit
    decision = decide(
        TriggerCheck(
            event_type=event.event_type,
            emergency=event.emergency,
            practice_ods=practice,
            band=risk.band,
            on_caseload=known.on_caseload,
            objects_to_contact=known.objects_to_contact,
            already_triggered=existing is not None and not existing.withdrawn,
            ae_min_band=uow.settings.hot_onboarding.ae_min_band,
        )
    )
    if decision.trigger is None or practice is None:
        log.debug("no hot onboarding", why=decision.why)  # every admission: DEBUG
        return
    if existing is None:
        uow.triggers.insert(
            {
                "nhs_number": event.nhs_number,
                "facility": event.sending_facility,
                "visit_number": visit,
                "practice_ods": practice,
                "trigger": decision.trigger,
                "trigger_event_id": event.event_id,
                "withdrawn": False,
                "created_at": uow.clock(),
                "withdrawn_at": None,
            }
        )
    else:  # the visit's earlier trigger was withdrawn and the patient is admitted again
        uow.triggers.rearm(existing.id, practice, decision.trigger, event.event_id)
    uow.publish(
        HOT_ONBOARDING,
        HotOnboarding(
            **event.caused(producer=PRODUCER),
            event_type=HotOnboardingEventType.TRIGGERED,
            nhs_number=event.nhs_number,
            practice_ods=practice,
            band=risk.band,
            score=risk.score,
            model_version=risk.model_version,
            trigger=decision.trigger,
            trigger_event_id=event.event_id,
            preferred_language=known.preferred_language,
            reasons=rescored.reasons,
        ),
    )
    log.info("hot onboarding triggered", why=decision.why)


def _withdraw(uow: ScoringUnitOfWork, event: EncounterEvent, rescored: Rescored) -> None:
    if not event.visit_number:
        return
    trigger = rescored.trigger  # read with the rescore's inputs, for this visit
    if trigger is None or trigger.withdrawn:
        return
    uow.triggers.withdraw(trigger.id, uow.clock())
    risk, profile = rescored.risk, rescored.profile
    uow.publish(
        HOT_ONBOARDING,
        HotOnboarding(
            **event.caused(producer=PRODUCER),
            event_type=HotOnboardingEventType.WITHDRAWN,
            nhs_number=event.nhs_number,
            practice_ods=trigger.practice_ods,
            band=risk.band,
            score=risk.score,
            model_version=risk.model_version,
            trigger=trigger.trigger,
            trigger_event_id=trigger.trigger_event_id,
            preferred_language=profile.preferred_language if profile else None,
            reasons=rescored.reasons,
        ),
    )
    log.info("hot onboarding withdrawn")
