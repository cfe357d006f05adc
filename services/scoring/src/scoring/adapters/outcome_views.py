"""The outcomes report's read model: enrolments, a matched comparison group and their hospital
use around each index date, straight from the store, a page of patients per query.

Built for a whole population: the comparison pool is one query over the scored patients of
the practices with enrolments; hospital events and stays are read only for the enrolled and
the comparison patients picked, 900 NHS numbers a query (SQLite's bound-parameter budget).
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.db import core_sql
from scoring.adapters.cohort_store import MEMBERS
from scoring.adapters.outcome_store import ENROLMENTS
from scoring.adapters.repository import CURRENT, ENCOUNTERS, PATIENTS
from scoring.adapters.stays import StayRepository
from scoring.domain.matching import Pools, ToMatch, match_comparisons
from scoring.domain.outcome_report import PatientOutcome, UnitCosts, report
from scoring.domain.outcomes import (
    MIN_FOLLOW_UP_DAYS,
    YEAR_DAYS,
    HospitalEvent,
    HospitalKind,
    Measured,
    age_band,
    midnight,
    period_outcome,
)
from scoring.domain.stays import Stay

PAGE = 900


@dataclass(frozen=True)
class Selection:
    """Which enrolments the report covers (None: all) and how it matches and follows up."""

    practice: str | None = None
    programme: str | None = None
    cohort: str | None = None
    per_enrolment: int = 3  # comparison patients per enrolment
    min_follow_up_days: int = MIN_FOLLOW_UP_DAYS


class EnrolmentRow(NamedTuple):
    nhs_number: str
    programme: str
    practice_ods: str | None
    activated_at: Any
    first_attended_at: Any
    sessions: int
    band: str | None
    pam_level: int | None
    repeat_medicines: int | None
    profile_as_of: date | None
    birth_date: date | None
    pam_now: int | None
    medicines_now: int | None
    as_of_now: date | None
    practice_now: str | None

    @property
    def index_date(self) -> date | None:
        began = self.first_attended_at or self.activated_at
        return None if began is None else began.date()

    @property
    def practice(self) -> str | None:
        return self.practice_ods or self.practice_now


def _pages(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), PAGE):
        yield list(items[start : start + PAGE])


def enrolments(session: Session, practice: str | None) -> list[EnrolmentRow]:
    """Every enrolment (of one practice, if given) with the patient's profile now."""
    query = select(
        ENROLMENTS.c.nhs_number,
        ENROLMENTS.c.programme,
        ENROLMENTS.c.practice_ods,
        ENROLMENTS.c.activated_at,
        ENROLMENTS.c.first_attended_at,
        ENROLMENTS.c.sessions_attended,
        ENROLMENTS.c.band,
        ENROLMENTS.c.pam_level,
        ENROLMENTS.c.repeat_medicines,
        ENROLMENTS.c.profile_as_of,
        PATIENTS.c.birth_date,
        PATIENTS.c.pam_level,
        PATIENTS.c.repeat_medicines,
        PATIENTS.c.as_of,
        PATIENTS.c.practice_ods,
    ).select_from(ENROLMENTS.outerjoin(PATIENTS, PATIENTS.c.nhs_number == ENROLMENTS.c.nhs_number))
    if practice is not None:
        query = query.where(
            or_(
                ENROLMENTS.c.practice_ods == practice,
                and_(ENROLMENTS.c.practice_ods.is_(None), PATIENTS.c.practice_ods == practice),
            )
        )
    rows = core_sql(session).execute(query.order_by(ENROLMENTS.c.nhs_number))
    return [EnrolmentRow._make(row) for row in rows]


def comparison_pools(
    session: Session,
    strata: set[tuple[str, str]],
    enrolled: set[str],
    practice: str | None = None,
) -> Pools:
    """Scored, never-enrolled patients with a known birth date in these (practice, band)
    strata, pooled for matching. For one practice the index finds its patients; for all of
    them one scan of the scores beats an index walk per practice (measured: 6x less CPU on
    450,000 in SQLite), and the strata and the enrolled are filtered here, not in SQL."""
    pools: Pools = {stratum: [] for stratum in strata}
    if not strata:
        return pools
    query = select(
        CURRENT.c.nhs_number, CURRENT.c.practice_ods, CURRENT.c.band, PATIENTS.c.birth_date
    ).select_from(CURRENT.join(PATIENTS, PATIENTS.c.nhs_number == CURRENT.c.nhs_number))
    if practice is not None:
        query = query.where(CURRENT.c.practice_ods == practice)
    for nhs, ods, band, born in _raw_rows(session, query):
        pool = pools.get((ods, band))
        if pool is not None and born is not None and nhs not in enrolled:
            # SQLite hands a date back as its ISO text; PostgreSQL as a date.
            day = date.fromisoformat(born) if isinstance(born, str) else born
            pool.append((day.toordinal(), nhs))
    return pools


def _raw_rows(session: Session, query: Any) -> list[tuple[Any, ...]]:
    """The rows of a query on the DB-API cursor: no result processing per row, which for the
    whole population costs more than the query (SQLite: dates come back as ISO text)."""
    connection = session.connection()
    compiled = query.compile(dialect=connection.dialect)
    if compiled.positional:
        arguments: Any = tuple(compiled.params[name] for name in compiled.positiontup)
    else:
        arguments = compiled.params
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), arguments)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def hospital(
    session: Session, nhs_numbers: Sequence[str], since: date
) -> tuple[dict[str, list[HospitalEvent]], dict[str, list[Stay]]]:
    """Each patient's A&E attendances and emergency admissions, and stays, from `since`."""
    start = midnight(since)
    events: dict[str, list[HospitalEvent]] = defaultdict(list)
    stays: dict[str, list[Stay]] = {}
    sql = core_sql(session)
    store = StayRepository(session)
    for page in _pages(sorted(set(nhs_numbers))):
        query = select(ENCOUNTERS.c.nhs_number, ENCOUNTERS.c.event_type, ENCOUNTERS.c.event_at)
        query = query.where(
            ENCOUNTERS.c.nhs_number.in_(page),
            ENCOUNTERS.c.cancelled.is_(False),
            ENCOUNTERS.c.event_at >= start,
            or_(
                ENCOUNTERS.c.event_type == EncounterEventType.AE_ATTENDANCE,
                and_(
                    ENCOUNTERS.c.event_type == EncounterEventType.ADMITTED,
                    ENCOUNTERS.c.emergency.is_(True),
                ),
            ),
        )
        for row in sql.execute(query):
            kind: HospitalKind = (
                "ae" if row.event_type == EncounterEventType.AE_ATTENDANCE else "admission"
            )
            events[row.nhs_number].append(HospitalEvent(kind, row.event_at))
        stays.update(store.stays(page, start))
    return dict(events), stays


def cohorts_of(session: Session, nhs_numbers: Sequence[str]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for page in _pages(sorted(set(nhs_numbers))):
        query = select(MEMBERS.c.nhs_number, MEMBERS.c.cohort).where(MEMBERS.c.nhs_number.in_(page))
        for row in core_sql(session).execute(query):
            found[row.nhs_number].add(row.cohort)
    return {nhs: frozenset(names) for nhs, names in found.items()}


def outcome_rows(session: Session, selection: Selection, today: date) -> list[PatientOutcome]:
    """Every enrolment the selection covers and its comparison patients, with their outcomes.

    Matching runs over every enrolment of the practices concerned (all programmes and
    cohorts), then the rows are filtered: a narrower view shows the same comparison patients
    as the wider one, never a different draw."""
    dated = [e for e in enrolments(session, selection.practice) if e.index_date is not None]
    to_match = [
        ToMatch((e.nhs_number, e.programme), e.practice, e.band, e.birth_date, e.index_date)
        for e in dated
        if e.index_date is not None
    ]
    strata = {(e.practice, e.band) for e in dated if e.practice and e.band}
    everyone_enrolled = set(core_sql(session).execute(select(ENROLMENTS.c.nhs_number)).scalars())
    pools = comparison_pools(session, strata, everyone_enrolled, selection.practice)
    matches = match_comparisons(to_match, pools, selection.per_enrolment)
    del pools
    memberships = cohorts_of(session, [e.nhs_number for e in dated])
    wanted = [
        e
        for e in dated
        if (selection.programme is None or e.programme == selection.programme)
        and (selection.cohort is None or selection.cohort in memberships.get(e.nhs_number, ()))
    ]
    comparison = [c.nhs_number for e in wanted for c in matches[(e.nhs_number, e.programme)]]
    if not wanted:
        return []
    earliest = min(e.index_date for e in wanted if e.index_date is not None)
    events, stays = hospital(
        session, [e.nhs_number for e in wanted] + comparison, earliest - timedelta(YEAR_DAYS)
    )

    def outcome(nhs: str, index: date) -> Any:
        return period_outcome(
            index, today, events.get(nhs, ()), stays.get(nhs, ()), selection.min_follow_up_days
        )

    rows: list[PatientOutcome] = []
    for e in wanted:
        index = e.index_date
        assert index is not None  # `dated`
        cohorts = memberships.get(e.nhs_number, frozenset())
        pam = Measured(e.pam_level, e.profile_as_of, e.pam_now, e.as_of_now)
        medicines = Measured(e.repeat_medicines, e.profile_as_of, e.medicines_now, e.as_of_now)
        rows.append(
            PatientOutcome(
                nhs_number=e.nhs_number,
                role="enrolled",
                programme=e.programme,
                practice_ods=e.practice,
                period=outcome(e.nhs_number, index),
                band=e.band,
                age_band=age_band(e.birth_date, index) if e.birth_date else None,
                sessions=e.sessions,
                pam_change=pam.change,
                medicines_change=medicines.change,
                cohorts=cohorts,
            )
        )
        for match in matches[(e.nhs_number, e.programme)]:
            rows.append(
                PatientOutcome(
                    nhs_number=match.nhs_number,
                    role="comparison",
                    programme=e.programme,
                    practice_ods=e.practice,
                    period=outcome(match.nhs_number, index),
                    band=match.band,
                    age_band=age_band(match.birth_date, index),
                    cohorts=cohorts,
                    matched_to=e.nhs_number,
                )
            )
    return rows


def outcomes(
    session: Session, selection: Selection, today: date, costs: UnitCosts
) -> tuple[list[PatientOutcome], dict[str, Any]]:
    """The rows and the JSON report, in one read (the HTTP view, and what the bench times)."""
    rows = outcome_rows(session, selection, today)
    filters = {
        "practice": selection.practice,
        "programme": selection.programme,
        "cohort": selection.cohort,
        "as_of": today.isoformat(),
        "comparisons_per_enrolment": selection.per_enrolment,
        "min_follow_up_days": selection.min_follow_up_days,
    }
    return rows, report(rows, costs, filters)
