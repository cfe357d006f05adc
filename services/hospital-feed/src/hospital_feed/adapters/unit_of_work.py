"""hospital-feed's unit of work: its messages and alerts in one transaction with the outbox."""

from sqlmodel import Session

from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.repository import AlertRepository, MessageRepository
from hospital_feed.config import Settings


class HospitalFeedUnitOfWork(UnitOfWork[Settings]):
    messages: MessageRepository
    alerts: AlertRepository

    def open_repositories(self, session: Session) -> None:
        self.messages = MessageRepository(session)
        self.alerts = AlertRepository(session)
