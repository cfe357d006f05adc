"""Small queries over the scoring tables."""

import json
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, func, select

from ensemble_contracts.hospital import EncounterEventType
from scoring.adapters.orm import HospitalEncounter, HotOnboardingTrigger, Patient, RiskScoreRecord
from scoring.domain.model import HOSPITAL_WINDOW_DAYS, HospitalUse, PatientProfile

# A11 cancels "admit/visit notification": an A01 admission or an A04 attendance of the visit.
CANCELLABLE = (EncounterEventType.ADMITTED, EncounterEventType.AE_ATTENDANCE)


def profile_of(patient: Patient) -> PatientProfile:
    conditions = None if patient.conditions is None else frozenset(json.loads(patient.conditions))
    return PatientProfile(
        practice_ods=patient.practice_ods,
        birth_date=patient.birth_date,
        conditions=conditions,
        repeat_medicines=patient.repeat_medicines,
        efi_deficits=patient.efi_deficits,
        deprivation_quintile=patient.deprivation_quintile,
        preferred_language=patient.preferred_language,
        on_caseload=patient.on_caseload,
        objects_to_contact=patient.objects_to_contact,
    )


def latest_score(session: Session, nhs_number: str) -> RiskScoreRecord | None:
    query = (
        select(RiskScoreRecord)
        .where(RiskScoreRecord.nhs_number == nhs_number)
        .order_by(col(RiskScoreRecord.id).desc())
        .limit(1)
    )
    return session.exec(query).first()


def hospital_use(session: Session, nhs_number: str, as_of: datetime) -> HospitalUse:
    """Non-cancelled emergency admissions and A&E attendances in the 12 months up to `as_of`.

    Events stamped a little after `as_of` (clock skew, or events handled out of order) count too.
    """
    since = as_of - timedelta(days=HOSPITAL_WINDOW_DAYS)
    query = (
        select(HospitalEncounter.event_type, func.count())
        .where(
            HospitalEncounter.nhs_number == nhs_number,
            col(HospitalEncounter.cancelled).is_(False),
            HospitalEncounter.event_at >= since,
            col(HospitalEncounter.event_type).in_(CANCELLABLE),
            # Only emergency admissions count; every A&E attendance does.
            or_(
                col(HospitalEncounter.event_type) == EncounterEventType.AE_ATTENDANCE,
                col(HospitalEncounter.emergency).is_(True),
            ),
        )
        .group_by(HospitalEncounter.event_type)
    )
    counts = dict(session.exec(query).all())
    return HospitalUse(
        emergency_admissions=counts.get(EncounterEventType.ADMITTED, 0),
        ae_attendances=counts.get(EncounterEventType.AE_ATTENDANCE, 0),
    )


def cancel_visit(session: Session, nhs_number: str, facility: str, visit_number: str) -> int:
    """Mark the visit's admissions and attendances cancelled; returns how many rows changed."""
    result = session.execute(
        update(HospitalEncounter)
        .where(
            col(HospitalEncounter.nhs_number) == nhs_number,
            col(HospitalEncounter.facility) == facility,
            col(HospitalEncounter.visit_number) == visit_number,
            col(HospitalEncounter.event_type).in_(CANCELLABLE),
            col(HospitalEncounter.cancelled).is_(False),
        )
        .values(cancelled=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def trigger_for_visit(
    session: Session, nhs_number: str, facility: str, visit_number: str
) -> HotOnboardingTrigger | None:
    query = select(HotOnboardingTrigger).where(
        HotOnboardingTrigger.nhs_number == nhs_number,
        HotOnboardingTrigger.facility == facility,
        HotOnboardingTrigger.visit_number == visit_number,
    )
    return session.exec(query).first()


def last_practice_seen(session: Session, nhs_number: str) -> str | None:
    """The practice the hospital last named for a patient (for patients without a profile)."""
    query = (
        select(HospitalEncounter.practice_ods)
        .where(
            HospitalEncounter.nhs_number == nhs_number,
            col(HospitalEncounter.practice_ods).is_not(None),
        )
        .order_by(col(HospitalEncounter.event_at).desc())
        .limit(1)
    )
    return session.exec(query).first()
