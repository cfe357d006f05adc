"""The whole population at once, a page at a time: for evaluating and activating a model.

Reads are by page of NHS numbers (one query per table per page, not per patient), so a model
can be compared or switched on a list of hundreds of thousands. Referral statuses (the
caseload projection) are here too: the worklist reads them, no score depends on them.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.db import core_sql
from scoring.adapters.orm import ReferralStatus
from scoring.adapters.repository import (
    CURRENT,
    ENCOUNTERS,
    PATIENTS,
    PROFILE_COLUMNS,
    profile_from,
)
from scoring.adapters.stays import StayRepository
from scoring.domain.model import HospitalUse, PatientProfile
from scoring.domain.stays import with_stays

CASELOADS = cast(Table, ReferralStatus.__table__)  # type: ignore[attr-defined]
_CASELOAD_COLUMNS = ["referral_id", "status", "practice_ods", "updated_at", "event_id"]
# PostgreSQL: the same per-patient advisory locks a single rescore takes, all of a page's, in
# NHS-number order (as every loader takes them: no deadlock between two).
_LOCK_PAGE = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('scoring.patient:' || k, 0)) "
    "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


def _newest_wins(dialect: Any) -> Any:
    """Insert the status, or take it over the one held unless that one is newer: one
    conditional upsert, so a late or replayed older event never overwrites a newer one."""
    statement = dialect.insert(CASELOADS)
    new, held = statement.excluded, CASELOADS.c
    return statement.on_conflict_do_update(
        index_elements=["nhs_number", "service"],
        set_={name: new[name] for name in _CASELOAD_COLUMNS},
        where=held.updated_at <= new.updated_at,
    )


_RECORD_CASELOAD = {"postgresql": _newest_wins(postgresql), "sqlite": _newest_wins(sqlite)}
_PATIENT_COLUMNS = [column.name for column in PATIENTS.c]


def _save_patients(dialect: Any) -> Any:
    statement = dialect.insert(PATIENTS)
    return statement.on_conflict_do_update(
        index_elements=["nhs_number"],
        set_={name: statement.excluded[name] for name in _PATIENT_COLUMNS if name != "nhs_number"},
    )


_SAVE_PATIENTS = {"postgresql": _save_patients(postgresql), "sqlite": _save_patients(sqlite)}


class Current(NamedTuple):
    band: str
    score: int
    practice_ods: str | None
    model_version: str


class PageRow(NamedTuple):
    """A scored patient of a page: the current score and the practice's profile (if any)."""

    nhs_number: str
    current: Current
    profile: PatientProfile | None


class CaseloadRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, values: Mapping[str, Any]) -> None:
        """Keep this status (every column of `ReferralStatus`) unless a newer one is held."""
        statement = _RECORD_CASELOAD[self._session.get_bind().dialect.name]
        core_sql(self._session).execute(statement, dict(values))


class PopulationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def page(self, after: str, limit: int, not_version: str | None = None) -> list[str]:
        """The next `limit` scored patients after `after` (NHS-number order); with
        `not_version`, only those whose current score another model version made."""
        query = select(CURRENT.c.nhs_number).where(CURRENT.c.nhs_number > after)
        if not_version is not None:
            query = query.where(CURRENT.c.model_version != not_version)
        found = core_sql(self._session).execute(query.order_by(CURRENT.c.nhs_number).limit(limit))
        return [row.nhs_number for row in found]

    def page_rows(
        self,
        after: str,
        limit: int | None,
        not_version: str | None = None,
        through: str | None = None,
    ) -> list[PageRow]:
        """As `page` (up to `through`, if given), with each patient's current score and
        profile: one query, rows read straight into domain objects."""
        columns = (CURRENT.c.band, CURRENT.c.score, CURRENT.c.practice_ods, CURRENT.c.model_version)
        query = (
            select(CURRENT.c.nhs_number, *columns, PATIENTS.c.nhs_number, *PROFILE_COLUMNS)
            .select_from(CURRENT.outerjoin(PATIENTS, PATIENTS.c.nhs_number == CURRENT.c.nhs_number))
            .where(CURRENT.c.nhs_number > after)
        )
        if not_version is not None:
            query = query.where(CURRENT.c.model_version != not_version)
        if through is not None:
            query = query.where(CURRENT.c.nhs_number <= through)
        query = query.order_by(CURRENT.c.nhs_number)
        if limit is not None:
            query = query.limit(limit)
        rows: list[Any] = list(core_sql(self._session).execute(query))
        return [
            PageRow(
                row[0],
                Current._make(row[1:5]),
                None if row[5] is None else profile_from(*row[6:]),
            )
            for row in rows
        ]

    def count(self, not_version: str | None = None) -> int:
        """How many patients are scored (with `not_version`: by another model version)."""
        query = select(func.count()).select_from(CURRENT)
        if not_version is not None:
            query = query.where(CURRENT.c.model_version != not_version)
        return int(core_sql(self._session).execute(query).scalar_one())

    def lock(self, nhs_numbers: Sequence[str]) -> None:
        """Hold these patients until the transaction ends (see PatientRepository.lock)."""
        if nhs_numbers and self._session.get_bind().dialect.name == "postgresql":
            core_sql(self._session).execute(_LOCK_PAGE, {"keys": sorted(nhs_numbers)})

    def patient_rows(self, nhs_numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored `patients` rows of these patients (every column), by NHS number."""
        query = select(PATIENTS).where(PATIENTS.c.nhs_number.in_(list(nhs_numbers)))
        rows = core_sql(self._session).execute(query).mappings()
        return {row["nhs_number"]: dict(row) for row in rows}

    def save_patients(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace these `patients` rows (every column), in one statement."""
        if rows:
            statement = _SAVE_PATIENTS[self._session.get_bind().dialect.name]
            core_sql(self._session).execute(statement, [dict(row) for row in rows])

    def profiles(self, nhs_numbers: Sequence[str]) -> dict[str, PatientProfile]:
        query = select(PATIENTS.c.nhs_number, *PROFILE_COLUMNS).where(
            PATIENTS.c.nhs_number.in_(list(nhs_numbers))
        )
        rows: list[Any] = list(core_sql(self._session).execute(query))
        return {row[0]: profile_from(*row[1:]) for row in rows}

    def hospital_use(
        self, nhs_numbers: Sequence[str], as_of: datetime, window_days: int
    ) -> dict[str, HospitalUse]:
        """As `EncounterRepository.hospital_use` with the bed days and inpatient status of
        their stays, for a page of patients in two queries."""
        query = (
            select(ENCOUNTERS.c.nhs_number, ENCOUNTERS.c.event_type, func.count().label("n"))
            .where(
                ENCOUNTERS.c.nhs_number.in_(list(nhs_numbers)),
                ENCOUNTERS.c.cancelled.is_(False),
                ENCOUNTERS.c.event_at >= as_of - timedelta(days=window_days),
                or_(
                    ENCOUNTERS.c.event_type == EncounterEventType.AE_ATTENDANCE,
                    and_(
                        ENCOUNTERS.c.event_type == EncounterEventType.ADMITTED,
                        ENCOUNTERS.c.emergency.is_(True),
                    ),
                ),
            )
            .group_by(ENCOUNTERS.c.nhs_number, ENCOUNTERS.c.event_type)
        )
        counts: dict[str, dict[str, int]] = {}
        for row in core_sql(self._session).execute(query):
            counts.setdefault(row.nhs_number, {})[row.event_type] = row.n
        uses = {
            nhs: HospitalUse(
                emergency_admissions=kinds.get(EncounterEventType.ADMITTED, 0),
                ae_attendances=kinds.get(EncounterEventType.AE_ATTENDANCE, 0),
            )
            for nhs, kinds in counts.items()
        }
        since = as_of - timedelta(days=window_days)
        for nhs, stays in StayRepository(self._session).stays(nhs_numbers, since).items():
            uses[nhs] = with_stays(uses.get(nhs, HospitalUse()), stays, as_of, window_days)
        return uses

    def current(self, nhs_numbers: Sequence[str]) -> dict[str, Current]:
        query = select(
            CURRENT.c.nhs_number,
            CURRENT.c.band,
            CURRENT.c.score,
            CURRENT.c.practice_ods,
            CURRENT.c.model_version,
        ).where(CURRENT.c.nhs_number.in_(list(nhs_numbers)))
        rows: list[Any] = list(core_sql(self._session).execute(query))
        return {row[0]: Current._make(row[1:]) for row in rows}
