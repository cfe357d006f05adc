"""Enrolments and programme sessions in the store, as the outcome handlers keep them from
referral and appointment events (`outcome_enrolments`, `outcome_sessions`)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, cast
from uuid import UUID

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from ensemble_runtime.db import core_sql
from scoring.adapters.orm import OutcomeEnrolment, OutcomeSession
from scoring.adapters.population import CASELOADS
from scoring.adapters.repository import CURRENT, SCORES

ENROLMENTS = cast(Table, OutcomeEnrolment.__table__)  # type: ignore[attr-defined]
SESSIONS = cast(Table, OutcomeSession.__table__)  # type: ignore[attr-defined]
_SESSION_COLUMNS = ["referral_id", "nhs_number", "programme", "attended", "starts_at", "changed_at"]


def _newest_wins(dialect: Any) -> Any:
    """Insert the appointment's state, or take it over the held one unless that is newer: a
    late or replayed older event never undoes a newer one."""
    statement = dialect.insert(SESSIONS)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["appointment_id"],
        set_={name: new[name] for name in _SESSION_COLUMNS},
        where=SESSIONS.c.changed_at <= new.changed_at,
    )


_RECORD_SESSION = {"postgresql": _newest_wins(postgresql), "sqlite": _newest_wins(sqlite)}


class Attended(NamedTuple):
    sessions: int
    first_at: datetime | None


class OutcomeRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def enrolment(self, nhs_number: str, programme: str) -> OutcomeEnrolment | None:
        return self._session.get(OutcomeEnrolment, (nhs_number, programme))

    def enrolments_of_referral(self, referral_id: UUID) -> list[OutcomeEnrolment]:
        query = select(OutcomeEnrolment).where(ENROLMENTS.c.referral_id == referral_id)
        return list(self._session.scalars(query))

    def add(self, enrolment: OutcomeEnrolment) -> None:
        self._session.add(enrolment)
        self._session.flush()

    def remove(self, enrolment: OutcomeEnrolment) -> None:
        self._session.delete(enrolment)
        self._session.flush()

    def programme_of(self, referral_id: UUID) -> str | None:
        """The programme a referral is to, as its events told us (enrolments, sessions, the
        caseload projection), or None."""
        sql = core_sql(self._session)
        for table in (ENROLMENTS, SESSIONS):
            found = sql.execute(
                select(table.c.programme).where(table.c.referral_id == referral_id).limit(1)
            ).scalar()
            if found is not None:
                return str(found)
        found = sql.execute(
            select(CASELOADS.c.service).where(CASELOADS.c.referral_id == referral_id).limit(1)
        ).scalar()
        return None if found is None else str(found)

    def record_session(self, values: Mapping[str, Any]) -> None:
        """Keep this appointment state (every column of `OutcomeSession`) unless newer is held."""
        statement = _RECORD_SESSION[self._session.get_bind().dialect.name]
        core_sql(self._session).execute(statement, dict(values))

    def attended(self, nhs_number: str, programme: str) -> Attended:
        """How many of the patient's sessions of the programme were attended, the first when."""
        row: Any = (
            core_sql(self._session)
            .execute(
                select(func.count(), func.min(SESSIONS.c.starts_at)).where(
                    SESSIONS.c.nhs_number == nhs_number,
                    SESSIONS.c.programme == programme,
                    SESSIONS.c.attended.is_(True),
                )
            )
            .one()
        )
        count, first = row
        return Attended(int(count), first)

    def move_sessions(self, referral_id: UUID, nhs_number: str) -> None:
        """A merge: the referral's appointments now belong to the surviving number."""
        core_sql(self._session).execute(
            update(SESSIONS)
            .where(SESSIONS.c.referral_id == referral_id)
            .values(nhs_number=nhs_number)
        )

    def band_at(self, nhs_number: str, moment: datetime) -> str | None:
        """The patient's band as last scored at or before `moment`; else the current band."""
        sql = core_sql(self._session)
        then = sql.execute(
            select(SCORES.c.band)
            .where(SCORES.c.nhs_number == nhs_number, SCORES.c.computed_at <= moment)
            .order_by(SCORES.c.id.desc())
            .limit(1)
        ).scalar()
        if then is not None:
            return str(then)
        now = sql.execute(select(CURRENT.c.band).where(CURRENT.c.nhs_number == nhs_number))
        found = now.scalar()
        return None if found is None else str(found)
