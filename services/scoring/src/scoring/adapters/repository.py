"""The scoring store as handlers see it: one repository per table, bound to the unit of work's
session. Every query and write the handlers need is here."""

import json
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, update
from sqlmodel import Session, col, func, select

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.db import serialize_on
from scoring.adapters.orm import HospitalEncounter, HotOnboardingTrigger, Patient, RiskScoreRecord
from scoring.domain.model import HOSPITAL_WINDOW_DAYS, HospitalUse, PatientProfile

# A11 cancels "admit/visit notification": an A01 admission or an A04 attendance of the visit.
CANCELLABLE = (EncounterEventType.ADMITTED, EncounterEventType.AE_ATTENDANCE)


def profile_of(patient: Patient) -> PatientProfile:
    conditions = None if patient.conditions is None else frozenset(json.loads(patient.conditions))
    language = patient.preferred_language
    return PatientProfile(
        practice_ods=patient.practice_ods,
        birth_date=patient.birth_date,
        conditions=conditions,
        repeat_medicines=patient.repeat_medicines,
        efi_deficits=patient.efi_deficits,
        deprivation_quintile=patient.deprivation_quintile,
        # A language the contract cannot carry (only SQLite stores one) counts as not known.
        preferred_language=language if language and len(language) <= limits.LANGUAGE else None,
        on_caseload=patient.on_caseload,
        objects_to_contact=patient.objects_to_contact,
    )


class PatientRepository:
    """Practice profiles of patients, and the per-patient lock every rescore takes."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock(self, nhs_number: str) -> None:
        """Hold the patient until the transaction ends: one rescore of a patient at a time.

        Two rescores at once could each see the old band and both publish the change.
        """
        serialize_on(self._session, f"scoring.patient:{nhs_number}")

    def get(self, nhs_number: str) -> Patient | None:
        return self._session.get(Patient, nhs_number)

    def profile(self, nhs_number: str) -> PatientProfile | None:
        """The patient's profile, or None when no practice extract named the patient."""
        patient = self.get(nhs_number)
        return profile_of(patient) if patient is not None else None

    def add(self, patient: Patient) -> None:
        self._session.add(patient)


class EncounterRepository:
    """Hospital encounters as received, and the hospital use they add up to."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def recorded(self, event_id: UUID) -> bool:
        return self._session.get(HospitalEncounter, event_id) is not None

    def add(self, encounter: HospitalEncounter) -> None:
        self._session.add(encounter)

    def hospital_use(self, nhs_number: str, as_of: datetime) -> HospitalUse:
        """Non-cancelled emergency admissions and A&E attendances in the 12 months up to `as_of`.

        Events stamped a little after `as_of` (clock skew, or events handled out of order)
        count too.
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
        counts = dict(self._session.exec(query).all())
        return HospitalUse(
            emergency_admissions=counts.get(EncounterEventType.ADMITTED, 0),
            ae_attendances=counts.get(EncounterEventType.AE_ATTENDANCE, 0),
        )

    def cancel_visit(self, nhs_number: str, facility: str, visit_number: str) -> int:
        """Mark the visit's admissions and attendances cancelled; returns how many rows changed."""
        result = self._session.execute(
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

    def last_practice_seen(self, nhs_number: str) -> str | None:
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
        return self._session.exec(query).first()


class ScoreRepository:
    """Every score computed, newest last."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def latest(self, nhs_number: str) -> RiskScoreRecord | None:
        query = (
            select(RiskScoreRecord)
            .where(RiskScoreRecord.nhs_number == nhs_number)
            .order_by(col(RiskScoreRecord.id).desc())
            .limit(1)
        )
        return self._session.exec(query).first()

    def add(self, record: RiskScoreRecord) -> None:
        self._session.add(record)


class TriggerRepository:
    """Hot-onboarding triggers: one per patient visit (facility + visit number)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def for_visit(
        self, nhs_number: str, facility: str, visit_number: str
    ) -> HotOnboardingTrigger | None:
        query = select(HotOnboardingTrigger).where(
            HotOnboardingTrigger.nhs_number == nhs_number,
            HotOnboardingTrigger.facility == facility,
            HotOnboardingTrigger.visit_number == visit_number,
        )
        return self._session.exec(query).first()

    def add(self, trigger: HotOnboardingTrigger) -> None:
        self._session.add(trigger)
