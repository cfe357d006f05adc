"""Cohort membership, refreshed a page of the population at a time: who is in each saved
cohort is stored (`cohort_members`), and each join and leave is published on
scoring.cohort-membership.v1 (keyed by NHS number) so referral can offer group sessions.

Run by the service every `SCORING_COHORT_REFRESH_SECONDS` (`entrypoints/cohorts.py`) and by
`ensemble-scoring-admin cohort refresh`; a patient is published only when membership changed.
"""

import functools

import structlog

from ensemble_contracts.scoring import CohortEventType, CohortMembershipChanged
from ensemble_contracts.topics import COHORT_MEMBERSHIP
from scoring.adapters.cohort_store import load_cohorts
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.domain.cohorts import Cohort
from scoring.service_layer.commands import CohortsRefreshed, RefreshCohorts
from scoring.service_layer.handlers import PRODUCER

log = structlog.get_logger(__name__)


@functools.cache
def saved_cohorts(folder: str | None) -> dict[str, Cohort]:
    """The saved cohorts, read once per process (a refused file stops the service's start)."""
    return load_cohorts(folder)


def refresh_cohorts(uow: ScoringUnitOfWork, command: RefreshCohorts) -> CohortsRefreshed:
    cohorts = saved_cohorts(uow.settings.cohorts_dir)
    now = uow.clock()
    page = uow.cohorts.scored(command.after, command.limit)
    if not page:
        uow.cohorts.forget_other_cohorts(sorted(cohorts))
        uow.commit()
        return CohortsRefreshed(None, 0, 0)
    facts = uow.cohorts.facts(page, now, uow.models.active().hospital_window_days)
    numbers = [row.nhs_number for row in page]
    envelope = {"producer": PRODUCER, "correlation_id": command.correlation_id}
    joined = left = 0
    for cohort in cohorts.values():
        held = uow.cohorts.members(cohort.name, numbers)
        now_in = {row.nhs_number for row, known in facts if cohort.includes(known)}
        joining = [(row, known) for row, known in facts if row.nhs_number in now_in - held]
        leaving = [(row, known) for row, known in facts if row.nhs_number in held - now_in]
        uow.cohorts.join(
            [
                {
                    "cohort": cohort.name,
                    "nhs_number": row.nhs_number,
                    "practice_ods": row.practice_ods,
                    "joined_at": now,
                }
                for row, _ in joining
            ]
        )
        uow.cohorts.leave(cohort.name, [row.nhs_number for row, _ in leaving])
        for kind, rows in ((CohortEventType.JOINED, joining), (CohortEventType.LEFT, leaving)):
            for row, _known in rows:
                uow.publish(
                    COHORT_MEMBERSHIP,
                    CohortMembershipChanged(
                        **envelope,
                        event_type=kind,
                        nhs_number=row.nhs_number,
                        cohort=cohort.name,
                        cohort_title=cohort.title,
                        practice_ods=row.practice_ods,
                        band=row.band,
                        score=row.score,
                    ),
                )
        joined, left = joined + len(joining), left + len(leaving)
    uow.commit()
    if joined or left:
        log.info("cohorts refreshed", joined=joined, left=left)
    return CohortsRefreshed(page[-1].nhs_number, joined, left)
