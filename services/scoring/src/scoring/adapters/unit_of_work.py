"""The scoring unit of work: one transaction, with the scoring repositories on it."""

from sqlmodel import Session

from ensemble_runtime.page_sessions import SessionRepository
from ensemble_runtime.unit_of_work import UnitOfWork
from scoring.adapters import page_sessions
from scoring.adapters.ageing import AgeingRepository
from scoring.adapters.cohort_store import CohortRepository
from scoring.adapters.merges import MergeRepository
from scoring.adapters.model_store import ModelRepository
from scoring.adapters.outcome_store import OutcomeRepository
from scoring.adapters.population import CaseloadRepository, PopulationRepository
from scoring.adapters.repository import (
    EncounterRepository,
    PatientRepository,
    ScoreRepository,
    TriggerRepository,
)
from scoring.adapters.rescore_reads import RescoreReads
from scoring.adapters.stays import StayRepository
from scoring.config import Settings


class ScoringUnitOfWork(UnitOfWork[Settings]):
    patients: PatientRepository
    encounters: EncounterRepository
    scores: ScoreRepository
    triggers: TriggerRepository
    models: ModelRepository
    caseloads: CaseloadRepository
    population: PopulationRepository
    ageing: AgeingRepository
    stays: StayRepository
    rescore_reads: RescoreReads
    merges: MergeRepository
    cohorts: CohortRepository
    outcomes: OutcomeRepository
    page_sessions: SessionRepository

    def open_repositories(self, session: Session) -> None:
        self.patients = PatientRepository(session)
        self.encounters = EncounterRepository(session)
        self.scores = ScoreRepository(session)
        self.triggers = TriggerRepository(session)
        self.models = ModelRepository(session)
        self.caseloads = CaseloadRepository(session)
        self.population = PopulationRepository(session)
        self.ageing = AgeingRepository(session)
        self.stays = StayRepository(session)
        self.rescore_reads = RescoreReads(session)
        self.merges = MergeRepository(session)
        self.cohorts = CohortRepository(session)
        self.outcomes = OutcomeRepository(session)
        self.page_sessions = SessionRepository(session, page_sessions.SESSIONS)
