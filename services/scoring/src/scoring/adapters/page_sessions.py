"""The outcomes page's sign-in sessions (migration 0008): the runtime's page session store
(ensemble_runtime.page_sessions) on scoring's own table; a session is staff's or one
practice's, as the token that signed in was."""

from sqlalchemy import Index

from ensemble_runtime.page_sessions import PageSessionColumns, session_table, signed_in_to


class ScoringPageSession(PageSessionColumns, table=True):
    __tablename__ = "scoring_page_sessions"
    __table_args__ = (Index("ix_scoring_page_sessions_expires_at", "expires_at"),)


SESSIONS = session_table(ScoringPageSession)
signed_in = signed_in_to(SESSIONS)
