"""hospital-feed's unit of work: its messages and alerts in one transaction with the outbox."""

from sqlmodel import Session

from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.access import AccessRepository
from hospital_feed.adapters.alert_bell import ALERT_BELL
from hospital_feed.adapters.message_browser import BrowserRepository
from hospital_feed.adapters.repository import (
    AlertRepository,
    CaseloadRepository,
    MessageRepository,
    RiskRepository,
)
from hospital_feed.adapters.rosters import RosterRepository, UnroutedRepository
from hospital_feed.adapters.sessions import PageSessionRepository
from hospital_feed.adapters.staff_sessions import StaffSessionRepository
from hospital_feed.adapters.visits import RegistrationRepository, VisitRepository
from hospital_feed.adapters.webhooks import WebhookRepository
from hospital_feed.config import Settings


class HospitalFeedUnitOfWork(UnitOfWork[Settings]):
    messages: MessageRepository
    alerts: AlertRepository
    risks: RiskRepository
    caseloads: CaseloadRepository
    page_sessions: PageSessionRepository
    access: AccessRepository
    webhooks: WebhookRepository
    rosters: RosterRepository
    unrouted: UnroutedRepository
    browser: BrowserRepository  # the staff message browser's commands
    staff_sessions: StaffSessionRepository
    visits: VisitRepository  # per-visit state (issue 10)
    registrations: RegistrationRepository  # registered practices and merges

    def open_repositories(self, session: Session) -> None:
        self.messages = MessageRepository(session)
        # Once committed, new alerts ring the bell the SSE feed waits on between its polls.
        self.alerts = AlertRepository(session, lambda: self.after_commit(ALERT_BELL.ring))
        self.risks = RiskRepository(session)
        self.caseloads = CaseloadRepository(session)
        self.page_sessions = PageSessionRepository(session)
        self.access = AccessRepository(session)
        self.webhooks = WebhookRepository(session)
        self.rosters = RosterRepository(session)
        self.unrouted = UnroutedRepository(session)
        self.browser = BrowserRepository(session)
        self.staff_sessions = StaffSessionRepository(session)
        self.visits = VisitRepository(session)
        self.registrations = RegistrationRepository(session)
