"""scoring's test kit, its profile and encounter factories, and looks at what it stored."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar
from uuid import uuid4

from sqlmodel import Session, select

from ensemble_contracts import PatientEvent, TopicSpec
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_devkit.synthetic import test_nhs_numbers
from ensemble_devkit.testkit import FrozenClock, ServiceKit, tokens
from scoring.adapters.orm import (
    HospitalEncounter,
    HospitalStay,
    HotOnboardingTrigger,
    Patient,
    RiskScoreRecord,
)
from scoring.adapters.repository import ScoreRepository
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.config import Settings
from scoring.service import DEFINITION
from scoring.service_layer.commands import LoadProfiles
from scoring.service_layer.extracts import ProfileIn

Kit = ServiceKit[Settings, ScoringUnitOfWork]
E = TypeVar("E", bound=PatientEvent)
Row = TypeVar(
    "Row", RiskScoreRecord, HotOnboardingTrigger, HospitalEncounter, HospitalStay, Patient
)
STAFF = "staff"
NOW = FrozenClock().now  # where every kit's clock starts: encounters happen then by default
# Test-range numbers, never used twice in a session (the broker outlives each test's store).
NHS_NUMBERS: Iterator[str] = test_nhs_numbers(100_000)


def scoring_kit(database_url: str, **settings: Any) -> Kit:
    """scoring on a store (fresh unless another kit made it), with one staff token holder."""
    return ServiceKit(DEFINITION, database_url, staff_tokens=tokens("staff", STAFF), **settings)


def high_risk(nhs_number: str, **changes: Any) -> dict[str, Any]:
    """Very high without any hospital use: 27 + 6 + 9 + 7 + 13 + 11 = 73 points."""
    return {
        "nhs_number": nhs_number,
        "practice_ods": "L85001",
        "birth_date": "1938-05-04",
        "conditions": ["diabetes", "copd", "chd", "heart_failure", "depression"],
        "repeat_medicines": 12,
        "efi_deficits": 10,
        "deprivation_quintile": 1,
        "preferred_language": "pa",
        **changes,
    }


def moderate_risk(nhs_number: str, **changes: Any) -> dict[str, Any]:
    """25 points: two physical conditions (16) and age 75+ (9). An admission makes it 32: high."""
    return {
        "nhs_number": nhs_number,
        "practice_ods": "L85002",
        "birth_date": "1940-01-01",
        "conditions": ["diabetes", "ckd"],
        "repeat_medicines": 2,
        "efi_deficits": 2,
        "deprivation_quintile": 3,
        "preferred_language": "en",
        **changes,
    }


def profiles(*lines: dict[str, Any]) -> LoadProfiles:
    """The command a staff upload of these profile lines becomes."""
    return LoadProfiles(profiles=tuple(ProfileIn.model_validate(line) for line in lines))


def load(kit: Kit, *lines: dict[str, Any]) -> int:
    """Load profile lines; how many lines were loaded (changed, unchanged or older)."""
    return kit.execute(profiles(*lines)).loaded


def encounter(
    nhs_number: str,
    event_type: str = EncounterEventType.ADMITTED,
    visit_number: str | None = "V1",
    emergency: bool = True,
    practice_ods: str | None = "L85001",
    event_at: datetime | None = None,
    facility: str = "RCB",
) -> EncounterEvent:
    trigger = {
        EncounterEventType.ADMITTED: "A01",
        EncounterEventType.AE_ATTENDANCE: "A04",
        EncounterEventType.ADMISSION_CANCELLED: "A11",
        EncounterEventType.DISCHARGED: "A03",
    }.get(event_type, "A02")
    return EncounterEvent(
        event_type=event_type,
        producer="hospital-feed",
        nhs_number=nhs_number,
        practice_ods=practice_ods,
        sending_facility=facility,
        trigger_event=trigger,
        source_message_id=uuid4().hex,
        visit_number=visit_number,
        patient_class="E" if event_type == EncounterEventType.AE_ATTENDANCE else "I",
        emergency=emergency,
        event_at=event_at or NOW,
    )


def published(kit: Kit, topic: TopicSpec[E], nhs_number: str) -> list[E]:
    """Events staged in the outbox for one patient on one topic, oldest first."""
    return [event for event in kit.published(topic) if event.nhs_number == nhs_number]


def current(kit: Kit, nhs_number: str) -> RiskScoreRecord:
    """The patient's latest score (there must be one)."""
    record = kit.read(lambda session: ScoreRepository(session).latest(nhs_number))
    assert record is not None
    return record


def patient_rows(kit: Kit, table: type[Row], nhs_number: str) -> list[Row]:
    """Every row of one of scoring's per-patient tables for the patient."""

    def query(session: Session) -> list[Row]:
        return list(session.exec(select(table).where(table.nhs_number == nhs_number)).all())

    return kit.read(query)


def scores(kit: Kit, nhs_number: str) -> list[RiskScoreRecord]:
    """Every score computed for the patient."""
    return patient_rows(kit, RiskScoreRecord, nhs_number)


def triggers(kit: Kit, nhs_number: str) -> list[HotOnboardingTrigger]:
    """The patient's hot-onboarding triggers, withdrawn or not."""
    return patient_rows(kit, HotOnboardingTrigger, nhs_number)


def stored_encounters(kit: Kit, nhs_number: str) -> list[HospitalEncounter]:
    """The hospital encounters stored for the patient."""
    return patient_rows(kit, HospitalEncounter, nhs_number)
