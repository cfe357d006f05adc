"""referral's unit of work: the runtime's transaction, with referral's repositories on it."""

from sqlmodel import Session

from ensemble_runtime.page_sessions import SessionRepository
from ensemble_runtime.unit_of_work import UnitOfWork
from referral.adapters import page_sessions
from referral.adapters.huddle_repository import HuddleRepository, SignalRepository
from referral.adapters.repository import (
    NoteRepository,
    ReferralRepository,
    RegistrationRepository,
)
from referral.config import Settings


class ReferralUnitOfWork(UnitOfWork[Settings]):
    referrals: ReferralRepository
    registrations: RegistrationRepository
    notes: NoteRepository
    signals: SignalRepository
    huddles: HuddleRepository
    page_sessions: SessionRepository

    def open_repositories(self, session: Session) -> None:
        self.referrals = ReferralRepository(session)
        self.registrations = RegistrationRepository(session)
        self.notes = NoteRepository(session)
        self.signals = SignalRepository(session)
        self.huddles = HuddleRepository(session)
        self.page_sessions = SessionRepository(session, page_sessions.SESSIONS)
