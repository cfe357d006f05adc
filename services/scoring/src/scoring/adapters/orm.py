"""Tables of the scoring service (SQLite or PostgreSQL).

Datetimes are `UtcDateTime`: stored as UTC, always read back timezone-aware. Times are set
by the handlers, from the unit of work's clock. Columns that hold a field of an event are at
least as wide as the contract's maximum for it (`ensemble_contracts.limits`): an event the
contract accepts always fits.
"""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime


class Patient(SQLModel, table=True):
    """The practice's profile of a patient; None means "not known"."""

    __tablename__ = "patients"

    nhs_number: str = Field(primary_key=True, max_length=10)
    practice_ods: str | None = Field(default=None, max_length=limits.ODS_CODE)
    birth_date: date | None = None
    conditions: str | None = Field(default=None, description="JSON list of condition codes")
    repeat_medicines: int | None = None
    efi_deficits: int | None = None
    deprivation_quintile: int | None = None
    preferred_language: str | None = Field(default=None, max_length=35)
    on_caseload: bool = False
    objects_to_contact: bool = False
    updated_at: datetime = Field(sa_type=UtcDateTime)
    efi: float | None = None  # the eFI value, when the extract gives it rather than deficits
    bmi: float | None = None
    pam_level: int | None = None
    smoking: str | None = Field(default=None, max_length=10)
    lives_alone: bool | None = None
    socially_isolated: bool | None = None
    is_carer: bool | None = None
    as_of: date | None = None  # the date of the newest extract line stored: older ones lose


class HospitalEncounter(SQLModel, table=True):
    """One encounter event as received; cancelled ones stop counting towards hospital use."""

    __tablename__ = "hospital_encounters"
    __table_args__ = (
        Index("ix_hospital_encounters_patient_time", "nhs_number", "event_at"),
        Index("ix_hospital_encounters_time", "event_at"),  # what ages out of the window
    )

    event_id: UUID = Field(primary_key=True)
    nhs_number: str = Field(max_length=10)
    event_type: str = Field(max_length=60)
    emergency: bool = False
    practice_ods: str | None = Field(default=None, max_length=limits.ODS_CODE)
    facility: str = Field(max_length=20)
    visit_number: str | None = Field(default=None, max_length=60)
    event_at: datetime = Field(sa_type=UtcDateTime)
    cancelled: bool = False
    received_at: datetime = Field(sa_type=UtcDateTime)
    # PV1-2 as the event gave it, and before a class change (`encounter.class_changed`).
    patient_class: str | None = Field(default=None, max_length=limits.CODE)
    previous_patient_class: str | None = Field(default=None, max_length=limits.CODE)


class HospitalStay(SQLModel, table=True):
    """A visit's time in a bed, as its events add up (`domain/stays.py`): what the ageing scan
    looks through for bed days leaving the window, and who is in hospital now."""

    __tablename__ = "hospital_stays"
    __table_args__ = (Index("ix_hospital_stays_bounds", "first_in", "last_out"),)

    nhs_number: str = Field(primary_key=True, max_length=10)
    facility: str = Field(primary_key=True, max_length=20)
    visit_number: str = Field(primary_key=True, max_length=80)
    first_in: datetime = Field(sa_type=UtcDateTime)
    last_out: datetime | None = Field(default=None, sa_type=UtcDateTime)  # None: still open


class RiskScoreRecord(SQLModel, table=True):
    """Every score computed, newest last; the latest per patient is the current one."""

    __tablename__ = "risk_scores"
    __table_args__ = (Index("ix_risk_scores_patient_latest", "nhs_number", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    nhs_number: str = Field(max_length=10)
    score: int
    band: str = Field(max_length=20)
    model_version: str = Field(max_length=40)
    reasons: str = Field(description="JSON list of {factor, points, detail}")
    inputs: str = Field(description="JSON object of what the score was computed from")
    computed_at: datetime = Field(sa_type=UtcDateTime)


class HotOnboardingTrigger(SQLModel, table=True):
    """One trigger per patient visit (facility + visit number), withdrawn by a cancel."""

    __tablename__ = "hot_onboarding_triggers"
    __table_args__ = (
        UniqueConstraint("nhs_number", "facility", "visit_number", name="uq_hot_onboarding_visit"),
    )

    id: int | None = Field(default=None, primary_key=True)
    nhs_number: str = Field(max_length=10)
    facility: str = Field(max_length=20)
    visit_number: str = Field(max_length=80)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    trigger: str = Field(max_length=20)
    trigger_event_id: UUID
    withdrawn: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class CurrentScore(SQLModel, table=True):
    """Each patient's latest score, one row per patient: what the practice worklist ranks,
    and the band a rescore compares against."""

    __tablename__ = "current_scores"
    __table_args__ = (
        Index("ix_current_scores_worklist", "practice_ods", "score", "nhs_number"),
        Index("ix_current_scores_model", "model_version", "nhs_number"),
    )

    nhs_number: str = Field(primary_key=True, max_length=10)
    practice_ods: str | None = Field(default=None, max_length=limits.ODS_CODE)
    score: int
    band: str = Field(max_length=20)
    model_version: str = Field(max_length=40)
    reasons: str = Field(sa_type=Text, description="JSON list of {factor, points, detail}")
    domains: str = Field(max_length=400, description="domains with points, as ',a,b,'")
    computed_at: datetime = Field(sa_type=UtcDateTime)


class RiskModelRecord(SQLModel, table=True):
    """A model file as it was activated: a version names one text for ever."""

    __tablename__ = "risk_models"

    version: str = Field(primary_key=True, max_length=40)
    source: str = Field(sa_type=Text, description="the model file's TOML text")
    digest: str = Field(max_length=64, description="SHA-256 of the text")
    stored_at: datetime = Field(sa_type=UtcDateTime)


class ModelActivation(SQLModel, table=True):
    """Every switch of the active model, newest last: the newest is the active one."""

    __tablename__ = "risk_model_activations"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=40)
    activated_at: datetime = Field(sa_type=UtcDateTime)
    activated_by: str = Field(max_length=100)


class ReferralStatus(SQLModel, table=True):
    """The patient's newest referral status per service, projected from referral.referrals.v1
    (newest `occurred_at` wins): `accepted` means on that caseload."""

    __tablename__ = "referral_statuses"

    nhs_number: str = Field(primary_key=True, max_length=10)
    service: str = Field(primary_key=True, max_length=30)
    referral_id: UUID
    status: str = Field(max_length=20)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    event_id: UUID


class CohortMember(SQLModel, table=True):
    """Who is in each saved cohort as last refreshed: what a membership change is told
    against, and what the worklist's cohort filter reads."""

    __tablename__ = "cohort_members"
    __table_args__ = (Index("ix_cohort_members_practice", "cohort", "practice_ods"),)

    cohort: str = Field(primary_key=True, max_length=60)
    nhs_number: str = Field(primary_key=True, max_length=10)
    practice_ods: str | None = Field(default=None, max_length=limits.ODS_CODE)
    joined_at: datetime = Field(sa_type=UtcDateTime)


class ScanMark(SQLModel, table=True):
    """How far a periodic scan has got: hospital use, up to which window cutoff the patients
    whose events aged out of the window were rescored."""

    __tablename__ = "scan_marks"

    name: str = Field(primary_key=True, max_length=40)
    up_to: datetime = Field(sa_type=UtcDateTime)


class OutcomeEnrolment(SQLModel, table=True):
    """A patient's enrolment in a programme, from referral and appointment events: when it
    began (the first attended session, or the activation while none is attended) and what the
    profile and score said then, the baseline the outcomes report measures change from."""

    __tablename__ = "outcome_enrolments"
    __table_args__ = (Index("ix_outcome_enrolments_practice", "practice_ods", "programme"),)

    nhs_number: str = Field(primary_key=True, max_length=10)
    programme: str = Field(primary_key=True, max_length=30)
    referral_id: UUID
    practice_ods: str | None = Field(default=None, max_length=limits.ODS_CODE)
    activated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    first_attended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    sessions_attended: int = 0
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # completed/discharged
    band: str | None = Field(default=None, max_length=20)  # at enrolment
    pam_level: int | None = None  # the profile's at enrolment
    repeat_medicines: int | None = None
    profile_as_of: date | None = None
    updated_at: datetime = Field(sa_type=UtcDateTime)


class OutcomeSession(SQLModel, table=True):
    """Each programme appointment's latest state (newest `occurred_at` wins): an attended one
    counts as a session."""

    __tablename__ = "outcome_sessions"
    __table_args__ = (Index("ix_outcome_sessions_referral", "referral_id"),)

    appointment_id: UUID = Field(primary_key=True)
    referral_id: UUID
    nhs_number: str = Field(max_length=10)
    programme: str = Field(max_length=30)
    attended: bool = False
    starts_at: datetime = Field(sa_type=UtcDateTime)
    changed_at: datetime = Field(sa_type=UtcDateTime)
