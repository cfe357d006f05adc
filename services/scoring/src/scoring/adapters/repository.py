"""The scoring store as handlers see it: one repository per table, bound to the unit of work's
session. Every query and write the handlers need is here.

Every hospital encounter records itself, rescores its patient and may trigger hot onboarding,
so those statements are SQLAlchemy Core, built once and compiled once, on the session's
connection (ADR 7); they return domain objects or small named tuples, not rows. The rare
paths (profile loads, reads for the API) keep the ORM. A row changed through the ORM is
flushed before Core reads it (`PatientRepository.add`).
"""

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as sqlmodel_select

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.db import core_sql
from ensemble_runtime.prepared import Prepared
from scoring.adapters.orm import (
    CurrentScore,
    HospitalEncounter,
    HotOnboardingTrigger,
    Patient,
    RiskScoreRecord,
)
from scoring.domain.model import HospitalUse, PatientProfile

# A11 cancels "admit/visit notification": an A01 admission or an A04 attendance of the visit.
CANCELLABLE = (EncounterEventType.ADMITTED, EncounterEventType.AE_ATTENDANCE)

PATIENTS = cast(Table, Patient.__table__)  # type: ignore[attr-defined]
ENCOUNTERS = cast(Table, HospitalEncounter.__table__)  # type: ignore[attr-defined]
SCORES = cast(Table, RiskScoreRecord.__table__)  # type: ignore[attr-defined]
CURRENT = cast(Table, CurrentScore.__table__)  # type: ignore[attr-defined]
TRIGGERS = cast(Table, HotOnboardingTrigger.__table__)  # type: ignore[attr-defined]

# PostgreSQL: a transaction-level advisory lock, as `ensemble_runtime.db.serialize_on` takes.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
# The columns a profile is made of, in `_profile`'s order.
PROFILE_COLUMNS = (
    PATIENTS.c.practice_ods,
    PATIENTS.c.birth_date,
    PATIENTS.c.conditions,
    PATIENTS.c.repeat_medicines,
    PATIENTS.c.efi_deficits,
    PATIENTS.c.deprivation_quintile,
    PATIENTS.c.preferred_language,
    PATIENTS.c.on_caseload,
    PATIENTS.c.objects_to_contact,
    PATIENTS.c.efi,
    PATIENTS.c.bmi,
    PATIENTS.c.pam_level,
    PATIENTS.c.smoking,
    PATIENTS.c.lives_alone,
    PATIENTS.c.socially_isolated,
    PATIENTS.c.is_carer,
    PATIENTS.c.as_of,
)
_PROFILE = select(*PROFILE_COLUMNS).where(PATIENTS.c.nhs_number == bindparam("nhs"))
# Record an encounter unless its event_id is already stored: one statement, not a look-up
# and an insert. Both dialects spell it the same way (ON CONFLICT ... DO NOTHING); the row
# count (1 new, 0 already stored) must be kept, as SQLAlchemy drops it for an INSERT.
_RECORD_ENCOUNTER = {
    name: Prepared(dialect.insert(ENCOUNTERS).on_conflict_do_nothing(index_elements=["event_id"]))
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_HOSPITAL_USE = (
    select(ENCOUNTERS.c.event_type, func.count().label("n"))
    .where(
        ENCOUNTERS.c.nhs_number == bindparam("nhs"),
        ENCOUNTERS.c.cancelled.is_(False),
        ENCOUNTERS.c.event_at >= bindparam("since"),
        # Every A&E attendance counts; only emergency admissions do. (No IN (...): its list
        # is expanded at every execution.)
        or_(
            ENCOUNTERS.c.event_type == EncounterEventType.AE_ATTENDANCE,
            and_(
                ENCOUNTERS.c.event_type == EncounterEventType.ADMITTED,
                ENCOUNTERS.c.emergency.is_(True),
            ),
        ),
    )
    .group_by(ENCOUNTERS.c.event_type)
)
_CANCEL_VISIT = Prepared(
    update(ENCOUNTERS)
    .where(
        ENCOUNTERS.c.nhs_number == bindparam("nhs"),
        ENCOUNTERS.c.facility == bindparam("sender"),
        ENCOUNTERS.c.visit_number == bindparam("visit"),
        or_(*(ENCOUNTERS.c.event_type == kind for kind in CANCELLABLE)),
        ENCOUNTERS.c.cancelled.is_(False),
    )
    .values(cancelled=True)
)
_LAST_PRACTICE = (
    select(ENCOUNTERS.c.practice_ods)
    .where(ENCOUNTERS.c.nhs_number == bindparam("nhs"), ENCOUNTERS.c.practice_ods.is_not(None))
    .order_by(ENCOUNTERS.c.event_at.desc())
    .limit(1)
)
_CURRENT_BAND = select(CURRENT.c.band).where(CURRENT.c.nhs_number == bindparam("nhs"))
# Scores are written a page of a population at a time: prepared (compiled once, executemany
# on the driver's cursor), so 450,000 rescored patients cost little more than their scoring.
_INSERT_SCORE = Prepared(insert(SCORES))
_CURRENT_COLUMNS = [c.name for c in CURRENT.c if c.name != "nhs_number"]
_SET_CURRENT = {
    name: Prepared(
        dialect.insert(CURRENT).on_conflict_do_update(
            index_elements=["nhs_number"],
            set_={column: dialect.insert(CURRENT).excluded[column] for column in _CURRENT_COLUMNS},
        )
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_TRIGGER_FOR_VISIT = select(
    TRIGGERS.c.id,
    TRIGGERS.c.practice_ods,
    TRIGGERS.c.trigger,
    TRIGGERS.c.trigger_event_id,
    TRIGGERS.c.withdrawn,
).where(
    TRIGGERS.c.nhs_number == bindparam("nhs"),
    TRIGGERS.c.facility == bindparam("facility"),
    TRIGGERS.c.visit_number == bindparam("visit"),
)
_INSERT_TRIGGER = Prepared(insert(TRIGGERS))
_REARM_TRIGGER = Prepared(
    update(TRIGGERS)
    .where(TRIGGERS.c.id == bindparam("trigger_id"))
    .values(
        withdrawn=False,
        withdrawn_at=None,
        practice_ods=bindparam("practice"),
        trigger=bindparam("kind"),
        trigger_event_id=bindparam("event_id"),
    )
)
_WITHDRAW_TRIGGER = Prepared(
    update(TRIGGERS)
    .where(TRIGGERS.c.id == bindparam("trigger_id"))
    .values(withdrawn=True, withdrawn_at=bindparam("at"))
)


def profile_of(patient: Patient) -> PatientProfile:
    return profile_from(*(getattr(patient, column.name) for column in PROFILE_COLUMNS))


def profile_from(
    practice_ods: str | None,
    birth_date: date | None,
    conditions: str | None,
    repeat_medicines: int | None,
    efi_deficits: int | None,
    deprivation_quintile: int | None,
    language: str | None,
    on_caseload: bool,
    objects_to_contact: bool,
    efi: float | None,
    bmi: float | None,
    pam_level: int | None,
    smoking: str | None,
    lives_alone: bool | None,
    socially_isolated: bool | None,
    is_carer: bool | None,
    as_of: date | None,
) -> PatientProfile:
    """A profile from the values of `PROFILE_COLUMNS`, in that order."""
    return PatientProfile(
        practice_ods=practice_ods,
        birth_date=birth_date,
        conditions=None if conditions is None else frozenset(json.loads(conditions)),
        repeat_medicines=repeat_medicines,
        efi_deficits=efi_deficits,
        deprivation_quintile=deprivation_quintile,
        # A language the contract cannot carry (only SQLite stores one) counts as not known.
        preferred_language=language if language and len(language) <= limits.LANGUAGE else None,
        on_caseload=on_caseload,
        objects_to_contact=objects_to_contact,
        efi=efi,
        bmi=bmi,
        pam_level=pam_level,
        smoking=smoking if smoking in ("current", "ex", "never") else None,  # type: ignore[arg-type]
        lives_alone=lives_alone,
        socially_isolated=socially_isolated,
        is_carer=is_carer,
        as_of=as_of,
    )


class PatientRepository:
    """Practice profiles of patients, and the per-patient lock every rescore takes."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._postgres: bool | None = None

    def lock(self, nhs_number: str) -> None:
        """Hold the patient until the transaction ends: one rescore of a patient at a time.

        Two rescores at once could each see the old band and both publish the change.
        PostgreSQL: an advisory lock; SQLite needs none (BEGIN IMMEDIATE lets one writer in).
        """
        if self._postgres is None:
            self._postgres = self._session.get_bind().dialect.name == "postgresql"
        if self._postgres:
            core_sql(self._session).execute(_LOCK, {"key": f"scoring.patient:{nhs_number}"})

    def get(self, nhs_number: str) -> Patient | None:
        return self._session.get(Patient, nhs_number)

    def profile(self, nhs_number: str) -> PatientProfile | None:
        """The patient's profile, or None when no practice extract named the patient."""
        row = core_sql(self._session).execute(_PROFILE, {"nhs": nhs_number}).first()
        return profile_from(*tuple(row)) if row is not None else None

    def add(self, patient: Patient) -> None:
        """Stage a new or changed patient; flushed now, so the Core reads above see it."""
        self._session.add(patient)
        self._session.flush()

    def remove(self, patient: Patient) -> None:
        """Delete a patient's profile (a number retired by a merge); flushed now."""
        self._session.delete(patient)
        self._session.flush()


class EncounterRepository:
    """Hospital encounters as received, and the hospital use they add up to."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, values: Mapping[str, Any]) -> bool:
        """Store an encounter (every column of `HospitalEncounter`) unless one with its
        event_id is stored already; returns whether it was new."""
        statement = _RECORD_ENCOUNTER[self._session.get_bind().dialect.name]
        return bool(statement.execute(self._session, values).rowcount)

    def hospital_use(self, nhs_number: str, as_of: datetime, window_days: int) -> HospitalUse:
        """Non-cancelled emergency admissions and A&E attendances in the `window_days` (the
        model's window) up to `as_of`.

        Events stamped a little after `as_of` (clock skew, or events handled out of order)
        count too.
        """
        since = as_of - timedelta(days=window_days)
        found = core_sql(self._session).execute(_HOSPITAL_USE, {"nhs": nhs_number, "since": since})
        counts: dict[str, int] = {row.event_type: row.n for row in found}
        return HospitalUse(
            emergency_admissions=counts.get(EncounterEventType.ADMITTED, 0),
            ae_attendances=counts.get(EncounterEventType.AE_ATTENDANCE, 0),
        )

    def cancel_visit(self, nhs_number: str, facility: str, visit_number: str) -> int:
        """Mark the visit's admissions and attendances cancelled; returns how many rows changed."""
        done = _CANCEL_VISIT.execute(
            self._session, {"nhs": nhs_number, "sender": facility, "visit": visit_number}
        )
        return done.rowcount

    def last_practice_seen(self, nhs_number: str) -> str | None:
        """The practice the hospital last named for a patient (for patients without a profile)."""
        found = core_sql(self._session).execute(_LAST_PRACTICE, {"nhs": nhs_number})
        return cast(str | None, found.scalar())


class ScoreRepository:
    """Every score computed, newest last."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def latest(self, nhs_number: str) -> RiskScoreRecord | None:
        query = (
            sqlmodel_select(RiskScoreRecord)
            .where(RiskScoreRecord.nhs_number == nhs_number)
            .order_by(col(RiskScoreRecord.id).desc())
            .limit(1)
        )
        return self._session.exec(query).first()

    def latest_band(self, nhs_number: str) -> str | None:
        """The band of the patient's latest score; None when never scored."""
        found = core_sql(self._session).execute(_CURRENT_BAND, {"nhs": nhs_number})
        return cast(str | None, found.scalar())

    def insert(self, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Store scores (every column of `RiskScoreRecord` but `id`) in the history."""
        rows = dict(values) if isinstance(values, Mapping) else [dict(v) for v in values]
        if rows:
            _INSERT_SCORE.execute(self._session, rows)

    def set_current(self, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        """Make these (every column of `CurrentScore`) the patients' current scores."""
        statement = _SET_CURRENT[self._session.get_bind().dialect.name]
        rows = dict(values) if isinstance(values, Mapping) else [dict(v) for v in values]
        if rows:
            statement.execute(self._session, rows)

    def add(self, record: RiskScoreRecord) -> None:
        self._session.add(record)


class VisitTrigger(NamedTuple):
    """A visit's hot-onboarding trigger, as the handlers need it."""

    id: int
    practice_ods: str
    trigger: str
    trigger_event_id: UUID
    withdrawn: bool


class TriggerRepository:
    """Hot-onboarding triggers: one per patient visit (facility + visit number)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def for_visit(self, nhs_number: str, facility: str, visit_number: str) -> VisitTrigger | None:
        found = core_sql(self._session).execute(
            _TRIGGER_FOR_VISIT, {"nhs": nhs_number, "facility": facility, "visit": visit_number}
        )
        row = found.first()
        return VisitTrigger._make(row) if row is not None else None

    def insert(self, values: Mapping[str, Any]) -> None:
        """Store a new trigger (every column of `HotOnboardingTrigger` but `id`); the one
        trigger per visit constraint speaks here."""
        _INSERT_TRIGGER.execute(self._session, values)

    def rearm(
        self, trigger_id: int, practice_ods: str, trigger: str, trigger_event_id: UUID
    ) -> None:
        """A withdrawn trigger fires again (the visit's patient was admitted again)."""
        _REARM_TRIGGER.execute(
            self._session,
            {
                "trigger_id": trigger_id,
                "practice": practice_ods,
                "kind": trigger,
                "event_id": trigger_event_id,
            },
        )

    def withdraw(self, trigger_id: int, at: datetime) -> None:
        _WITHDRAW_TRIGGER.execute(self._session, {"trigger_id": trigger_id, "at": at})

    def add(self, trigger: HotOnboardingTrigger) -> None:
        self._session.add(trigger)
