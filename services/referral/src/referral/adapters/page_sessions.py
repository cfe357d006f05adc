"""The huddle sheet's sign-in sessions (migration 0006): the runtime's page session store
(ensemble_runtime.page_sessions) on referral's own table."""

from sqlalchemy import Index

from ensemble_runtime.page_sessions import PageSessionColumns, session_table, signed_in_to


class ReferralPageSession(PageSessionColumns, table=True):
    __tablename__ = "referral_page_sessions"
    __table_args__ = (Index("ix_referral_page_sessions_expires_at", "expires_at"),)


SESSIONS = session_table(ReferralPageSession)
signed_in = signed_in_to(SESSIONS)
