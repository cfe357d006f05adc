"""Saved cohorts: their definitions (the packaged `scoring/cohorts/*.toml`, plus one file per
cohort in `SCORING_COHORTS_DIR`), who is in each as last refreshed (`cohort_members`), and the
facts a cohort reads of a page of scored patients."""

from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, delete, insert, select
from sqlmodel import Session

from ensemble_runtime.db import core_sql
from scoring.adapters.model_store import ModelRepository
from scoring.adapters.orm import CohortMember
from scoring.adapters.population import PopulationRepository
from scoring.adapters.repository import CURRENT
from scoring.domain.cohorts import Cohort, CohortFileError, Facts, read_cohort
from scoring.domain.patient import HospitalUse

MEMBERS = cast(Table, CohortMember.__table__)  # type: ignore[attr-defined]


def load_cohorts(folder: str | None = None) -> dict[str, Cohort]:
    """Every saved cohort by name; CohortFileError (naming the file) when one is refused or two
    share a name."""
    texts = [
        (p.name, p.read_text("utf-8"))
        for p in sorted((resources.files("scoring") / "cohorts").iterdir(), key=lambda p: p.name)
        if p.name.endswith(".toml")
    ]
    if folder:
        texts += [(p.name, p.read_text("utf-8")) for p in sorted(Path(folder).glob("*.toml"))]
    cohorts: dict[str, Cohort] = {}
    for name, text in texts:
        try:
            cohort = read_cohort(text)
        except CohortFileError as error:
            raise CohortFileError([f"{name}: {p}" for p in error.problems]) from None
        if cohort.name in cohorts:
            raise CohortFileError([f"{name}: a second cohort named {cohort.name!r}"])
        cohorts[cohort.name] = cohort
    return cohorts


class Scored(NamedTuple):
    nhs_number: str
    practice_ods: str | None
    band: str
    score: int
    domains: str


class CohortRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def scored(self, after: str, limit: int, practice_ods: str | None = None) -> list[Scored]:
        """The next page of scored patients (NHS-number order), of one practice if given."""
        query = select(
            CURRENT.c.nhs_number,
            CURRENT.c.practice_ods,
            CURRENT.c.band,
            CURRENT.c.score,
            CURRENT.c.domains,
        ).where(CURRENT.c.nhs_number > after)
        if practice_ods is not None:
            query = query.where(CURRENT.c.practice_ods == practice_ods)
        rows: list[Any] = list(
            core_sql(self._session).execute(query.order_by(CURRENT.c.nhs_number).limit(limit))
        )
        return [Scored._make(row) for row in rows]

    def facts(
        self, page: Sequence[Scored], now: datetime, window_days: int
    ) -> list[tuple[Scored, Facts]]:
        """What a cohort reads of each patient of the page (two queries for the page)."""
        population = PopulationRepository(self._session)
        numbers = [row.nhs_number for row in page]
        profiles = population.profiles(numbers)
        uses = population.hospital_use(numbers, now, window_days)
        return [
            (
                row,
                Facts(
                    profile=profiles.get(row.nhs_number),
                    use=uses.get(row.nhs_number, HospitalUse()),
                    band=row.band,
                    score=row.score,
                    domains=tuple(d for d in row.domains.split(",") if d),
                    today=now.date(),
                ),
            )
            for row in page
        ]

    def members(self, cohort: str, nhs_numbers: Sequence[str]) -> set[str]:
        query = select(MEMBERS.c.nhs_number).where(
            MEMBERS.c.cohort == cohort, MEMBERS.c.nhs_number.in_(list(nhs_numbers))
        )
        return {row.nhs_number for row in core_sql(self._session).execute(query)}

    def join(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            core_sql(self._session).execute(insert(MEMBERS), list(rows))

    def leave(self, cohort: str, nhs_numbers: Sequence[str]) -> None:
        if nhs_numbers:
            core_sql(self._session).execute(
                delete(MEMBERS).where(
                    MEMBERS.c.cohort == cohort, MEMBERS.c.nhs_number.in_(list(nhs_numbers))
                )
            )

    def forget_other_cohorts(self, names: Sequence[str]) -> None:
        """Members of cohorts whose definition is gone (no event: the cohort itself went)."""
        core_sql(self._session).execute(delete(MEMBERS).where(MEMBERS.c.cohort.not_in(list(names))))


def practice_members(
    session: Session, cohort: Cohort, practice_ods: str, now: datetime, window_days: int
) -> list[dict[str, Any]]:
    """The practice's patients in the cohort now (evaluated, not as last refreshed), ranked by
    score as the worklist is."""
    repository, found, after = CohortRepository(session), [], ""
    while page := repository.scored(after, 1000, practice_ods):
        for row, facts in repository.facts(page, now, window_days):
            if cohort.includes(facts):
                found.append(
                    {
                        "nhs_number": row.nhs_number,
                        "score": row.score,
                        "band": row.band,
                        "domains": list(facts.domains),
                    }
                )
        after = page[-1].nhs_number
    return sorted(found, key=lambda member: (-member["score"], member["nhs_number"]))


def members_now(session: Session, practice_ods: str, *, cohort: Cohort, now: datetime) -> Any:
    """practice_members over the active model's hospital-use window (the HTTP view)."""
    window = ModelRepository(session).active().hospital_window_days
    return practice_members(session, cohort, practice_ods, now, window)
