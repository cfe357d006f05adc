"""Command and event handlers of the scoring service: one unit of work each.

Profiles (HTTP) and hospital encounters (Kafka) both end in `rescore`, which stores the score
and publishes `ScoreChanged` only when the band changes (or on a patient's first score).
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import structlog

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.scoring import (
    HotOnboarding,
    HotOnboardingEventType,
    ScoreChanged,
    ScoreReason,
)
from ensemble_contracts.topics import HOT_ONBOARDING, SCORE_CHANGES
from ensemble_runtime.consumer import RejectedEvent
from ensemble_runtime.db import serialize_on
from ensemble_runtime.unit_of_work import UnitOfWork
from scoring.adapters.orm import HospitalEncounter, HotOnboardingTrigger, Patient, RiskScoreRecord
from scoring.adapters.repository import (
    cancel_visit,
    hospital_use,
    last_practice_seen,
    latest_score,
    profile_of,
    trigger_for_visit,
)
from scoring.domain.hot_onboarding import (
    DEFAULT_AE_MIN_BAND,
    TriggerCheck,
    decide,
    trigger_kind,
    withdraws,
)
from scoring.domain.model import Band, PatientProfile, RiskScore, score_patient
from scoring.service_layer.extracts import ParsedExtract, ProfileIn, parse_extract

__all__ = [
    "EVENT_HANDLERS",
    "HotOnboardingPolicy",
    "ParsedExtract",
    "ProfileIn",
    "event_handlers",
    "handle_encounter",
    "load_profiles",
    "parse_extract",
]

PRODUCER = "scoring"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class HotOnboardingPolicy:
    ae_min_band: Band = DEFAULT_AE_MIN_BAND


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- scoring ---------------------------------------------------------------------------------


def reasons_of(risk: RiskScore) -> list[ScoreReason]:
    return [ScoreReason(factor=r.factor, points=r.points, detail=r.detail) for r in risk.reasons]


def rescore(
    uow: UnitOfWork,
    nhs_number: str,
    as_of: datetime,
    envelope: Mapping[str, Any],
    practice_hint: str | None = None,
) -> RiskScore:
    """Score a patient now, store it, and publish `ScoreChanged` if the band moved."""
    session = uow.session
    # One rescore of a patient at a time, or two could each see the old band and both publish.
    serialize_on(session, f"scoring.patient:{nhs_number}")
    patient = session.get(Patient, nhs_number)
    profile = profile_of(patient) if patient is not None else None
    risk = score_patient(profile, hospital_use(session, nhs_number, as_of), as_of.date())
    previous = latest_score(session, nhs_number)
    session.add(
        RiskScoreRecord(
            nhs_number=nhs_number,
            score=risk.score,
            band=risk.band,
            model_version=risk.model_version,
            reasons=json.dumps([r.model_dump() for r in reasons_of(risk)]),
            inputs=json.dumps(risk.inputs),
        )
    )
    if previous is None or previous.band != risk.band:
        practice = (profile.practice_ods if profile else None) or practice_hint
        uow.publish(
            SCORE_CHANGES,
            ScoreChanged(
                **envelope,
                nhs_number=nhs_number,
                model_version=risk.model_version,
                score=risk.score,
                band=risk.band,
                previous_band=previous.band if previous else None,
                practice_ods=practice or last_practice_seen(session, nhs_number),
                reasons=reasons_of(risk),
            ),
        )
    return risk


# --- profiles --------------------------------------------------------------------------------


def load_profiles(uow: UnitOfWork, profiles: Sequence[ProfileIn]) -> int:
    """Upsert profiles (only the fields each line gives), rescore each patient, commit."""
    now = datetime.now(UTC)
    envelope = {"producer": PRODUCER, "correlation_id": uuid4()}  # one load, one correlation
    # In NHS-number order, as every loader locks patients (see rescore): no deadlock between two.
    for profile in sorted(profiles, key=lambda p: p.nhs_number):
        patient = uow.session.get(Patient, profile.nhs_number) or Patient(
            nhs_number=profile.nhs_number
        )
        for name in profile.model_fields_set - {"nhs_number"}:
            value = getattr(profile, name)
            if name == "conditions":
                value = None if value is None else json.dumps(value)
            elif name in ("on_caseload", "objects_to_contact"):
                value = bool(value)
            setattr(patient, name, value)
        patient.updated_at = now
        uow.session.add(patient)
        rescore(uow, profile.nhs_number, now, envelope)
    uow.commit()
    log.info("profiles loaded", count=len(profiles))
    return len(profiles)


# --- hospital encounters ---------------------------------------------------------------------


def handle_encounter(
    uow: UnitOfWork, event: EncounterEvent, policy: HotOnboardingPolicy | None = None
) -> None:
    """Record the encounter, rescore, then trigger or withdraw hot onboarding."""
    if not is_valid_nhs_number(event.nhs_number):
        raise RejectedEvent("invalid or placeholder NHS number")
    session = uow.session
    if session.get(HospitalEncounter, event.event_id) is not None:
        return  # already recorded (the inbox normally catches this first)
    at = utc(event.event_at or event.occurred_at)
    session.add(
        HospitalEncounter(
            event_id=event.event_id,
            nhs_number=event.nhs_number,
            event_type=event.event_type,
            emergency=event.emergency,
            practice_ods=event.practice_ods,
            facility=event.sending_facility,
            visit_number=event.visit_number,
            event_at=at,
        )
    )
    if withdraws(event.event_type) and event.visit_number:
        cancel_visit(session, event.nhs_number, event.sending_facility, event.visit_number)
    session.flush()

    envelope = event.caused(producer=PRODUCER)
    risk = rescore(uow, event.nhs_number, at, envelope, practice_hint=event.practice_ods)
    patient = session.get(Patient, event.nhs_number)
    profile = profile_of(patient) if patient is not None else None
    if withdraws(event.event_type):
        _withdraw(uow, event, risk, profile)
    elif trigger_kind(event.event_type, event.emergency) is not None:
        _maybe_trigger(uow, event, risk, profile, policy or HotOnboardingPolicy())


def visit_key(event: EncounterEvent) -> str:
    """The visit a trigger belongs to; without a visit number, the event stands alone."""
    return event.visit_number or f"event:{event.event_id}"


def _maybe_trigger(
    uow: UnitOfWork,
    event: EncounterEvent,
    risk: RiskScore,
    profile: PatientProfile | None,
    policy: HotOnboardingPolicy,
) -> None:
    session = uow.session
    known = profile or PatientProfile()
    practice = known.practice_ods or event.practice_ods
    visit = visit_key(event)
    existing = trigger_for_visit(session, event.nhs_number, event.sending_facility, visit)
    decision = decide(
        TriggerCheck(
            event_type=event.event_type,
            emergency=event.emergency,
            practice_ods=practice,
            band=risk.band,
            on_caseload=known.on_caseload,
            objects_to_contact=known.objects_to_contact,
            already_triggered=existing is not None and not existing.withdrawn,
            ae_min_band=policy.ae_min_band,
        )
    )
    if decision.trigger is None or practice is None:
        log.info("no hot onboarding", why=decision.why)
        return
    if existing is None:
        existing = HotOnboardingTrigger(
            nhs_number=event.nhs_number,
            facility=event.sending_facility,
            visit_number=visit,
            practice_ods=practice,
            trigger=decision.trigger,
            trigger_event_id=event.event_id,
        )
    else:  # the visit's earlier trigger was withdrawn and the patient is admitted again
        existing.withdrawn = False
        existing.withdrawn_at = None
        existing.practice_ods = practice
        existing.trigger = decision.trigger
        existing.trigger_event_id = event.event_id
    session.add(existing)
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
            reasons=reasons_of(risk),
        ),
    )
    log.info("hot onboarding triggered", why=decision.why)


def _withdraw(
    uow: UnitOfWork, event: EncounterEvent, risk: RiskScore, profile: PatientProfile | None
) -> None:
    if not event.visit_number:
        return
    trigger = trigger_for_visit(
        uow.session, event.nhs_number, event.sending_facility, event.visit_number
    )
    if trigger is None or trigger.withdrawn:
        return
    trigger.withdrawn = True
    trigger.withdrawn_at = datetime.now(UTC)
    uow.session.add(trigger)
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
            reasons=reasons_of(risk),
        ),
    )
    log.info("hot onboarding withdrawn")


def event_handlers(
    policy: HotOnboardingPolicy,
) -> dict[str, Callable[[UnitOfWork, EncounterEvent], None]]:
    """Handlers for `scoring.encounters`: every encounter type is recorded and rescored."""

    def on_encounter(uow: UnitOfWork, event: EncounterEvent) -> None:
        handle_encounter(uow, event, policy)

    return dict.fromkeys(EncounterEventType.ALL, on_encounter)


EVENT_HANDLERS = event_handlers(HotOnboardingPolicy())
