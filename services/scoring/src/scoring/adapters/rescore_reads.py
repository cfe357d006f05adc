"""What a rescore reads about a patient, in one statement: the practice profile, the band of
the current score, the hospital use in the model's window, for an encounter the hot
onboarding trigger of its visit, and which model is active.

Every hospital encounter rescores its patient, so these were four round trips per event
(`PatientRepository.profile`, `ScoreRepository.latest_band`, `EncounterRepository.hospital_use`,
`TriggerRepository.for_visit`); here they are one prepared statement (ADR 7) that reads the
same rows: a one-row table of the patient's scalar facts, with the profile and the visit's
trigger joined on (absent ones give NULLs). Those four stay for the other callers. The active
model's version and digest come with them (`ModelRepository.active` was a fifth read); the
window is the caller's guess of that model's, so a caller reads again if the guess was wrong.
"""

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import String, and_, bindparam, func, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.prepared import Prepared
from scoring.adapters.model_store import ACTIVE_ROW
from scoring.adapters.repository import (
    CURRENT,
    ENCOUNTERS,
    PATIENTS,
    PROFILE_COLUMNS,
    TRIGGERS,
    VisitTrigger,
    profile_from,
)
from scoring.domain.model import HospitalUse, PatientProfile


def _counted(name: str, *kind: ColumnElement[bool]) -> Label[int]:
    """How many of the patient's non-cancelled encounters since `since` match `kind`."""
    return (
        select(func.count())
        .where(
            ENCOUNTERS.c.nhs_number == bindparam("nhs"),
            ENCOUNTERS.c.cancelled.is_(False),
            ENCOUNTERS.c.event_at >= bindparam("since"),
            *kind,
        )
        .scalar_subquery()
        .label(name)
    )


# As `EncounterRepository.hospital_use` counts: every A&E attendance, emergency admissions only.
_PATIENT_FACTS = select(
    sql_cast(bindparam("nhs"), String).label("nhs"),
    select(CURRENT.c.band)
    .where(CURRENT.c.nhs_number == bindparam("nhs"))
    .scalar_subquery()
    .label("band"),
    _counted(
        "admissions",
        ENCOUNTERS.c.event_type == EncounterEventType.ADMITTED,
        ENCOUNTERS.c.emergency.is_(True),
    ),
    _counted("attendances", ENCOUNTERS.c.event_type == EncounterEventType.AE_ATTENDANCE),
).subquery("facts")
_TRIGGER_COLUMNS = (
    TRIGGERS.c.id,
    TRIGGERS.c.practice_ods,
    TRIGGERS.c.trigger,
    TRIGGERS.c.trigger_event_id,
    TRIGGERS.c.withdrawn,
)
_ACTIVE = ACTIVE_ROW.subquery("active")  # no row: the store never activated a model
_RESCORE_INPUTS = Prepared(
    select(
        *_PATIENT_FACTS.c[1:],
        PATIENTS.c.nhs_number,  # NULL: no profile
        *PROFILE_COLUMNS,
        *_TRIGGER_COLUMNS,
        _ACTIVE.c.version,
        _ACTIVE.c.digest,
    ).select_from(
        _PATIENT_FACTS.outerjoin(PATIENTS, PATIENTS.c.nhs_number == _PATIENT_FACTS.c.nhs)
        .outerjoin(
            TRIGGERS,
            and_(
                TRIGGERS.c.nhs_number == _PATIENT_FACTS.c.nhs,
                TRIGGERS.c.facility == bindparam("facility"),
                TRIGGERS.c.visit_number == bindparam("visit"),
            ),
        )
        .outerjoin(_ACTIVE, true())
    )
)
_PROFILE_AT = 4  # where the profile's columns begin in a row
_TRIGGER_AT = _PROFILE_AT + len(PROFILE_COLUMNS)
_ACTIVE_AT = _TRIGGER_AT + len(_TRIGGER_COLUMNS)


class RescoreInputs(NamedTuple):
    profile: PatientProfile | None  # None: no practice extract named the patient
    previous_band: str | None  # None: never scored
    use: HospitalUse  # admissions and attendances only; bed days come from the stays
    trigger: VisitTrigger | None  # the visit's hot-onboarding trigger, if asked and found
    window_days: int  # the window `use` was counted in
    active_version: str | None  # the active model's; None: the store never activated one
    active_digest: str | None


class RescoreReads:
    def __init__(self, session: Session) -> None:
        self._session = session

    def inputs(
        self,
        nhs_number: str,
        as_of: datetime,
        window_days: int,
        facility: str | None = None,
        visit: str | None = None,
    ) -> RescoreInputs:
        """The patient's rescore inputs; the trigger of (facility, visit) when both are given.

        Hospital use counts from `window_days` before `as_of`, as `hospital_use` does.
        """
        since = as_of - timedelta(days=window_days)
        row = _RESCORE_INPUTS.execute(
            self._session,
            {"nhs": nhs_number, "since": since, "facility": facility, "visit": visit},
        ).rows[0]
        band, admissions, attendances, known = row[:_PROFILE_AT]
        profile = profile_from(*row[_PROFILE_AT:_TRIGGER_AT]) if known is not None else None
        trigger_row = row[_TRIGGER_AT:_ACTIVE_AT]
        trigger = VisitTrigger._make(trigger_row) if trigger_row[0] is not None else None
        version, digest = row[_ACTIVE_AT:]
        return RescoreInputs(
            profile=profile,
            previous_band=band,
            use=HospitalUse(emergency_admissions=admissions, ae_attendances=attendances),
            trigger=trigger,
            window_days=window_days,
            active_version=version,
            active_digest=digest,
        )
