"""hospital-feed's unit of work: its messages and alerts in one transaction with the outbox."""

from sqlmodel import Session

from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.access import AccessRepository
from hospital_feed.adapters.repository import (
    AlertRepository,
    CaseloadRepository,
    MessageRepository,
    RiskRepository,
)
from hospital_feed.adapters.sessions import PageSessionRepository
from hospital_feed.config import Settings


class HospitalFeedUnitOfWork(UnitOfWork[Settings]):
    messages: MessageRepository
    alerts: AlertRepository
    risks: RiskRepository
    caseloads: CaseloadRepository
    page_sessions: PageSessionRepository
    access: AccessRepository

    def open_repositories(self, session: Session) -> None:
        self.messages = MessageRepository(session)
        self.alerts = AlertRepository(session)
        self.risks = RiskRepository(session)
        self.caseloads = CaseloadRepository(session)
        self.page_sessions = PageSessionRepository(session)
        self.access = AccessRepository(session)
