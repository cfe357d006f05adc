"""The staff message page's sign-in sessions: the runtime's session store
(ensemble_runtime.page_sessions) on a table of their own, apart from the practice page's
(adapters/sessions.py), so a staff session can never be taken for a practice's or the other
way round.

The browser holds only an opaque random id (a cookie); the store keeps its sha256 and the
session's own CSRF token.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel

from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.page_sessions import SessionRepository, SessionTable, live_session


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_expires_at", "expires_at"),)

    session_sha256: str = Field(primary_key=True, max_length=64)
    principal: str = Field(max_length=100)  # the staff token's principal
    user: str = Field(max_length=100)
    csrf_token: str = Field(max_length=64)
    # Of the env or file staff token that signed in (migration 0013).
    token_sha256: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


SESSIONS = SessionTable(StaffSession, "principal", digest_column="token_sha256")


@dataclass(frozen=True)
class StaffSignedIn:
    principal: str
    user: str
    csrf_token: str
    token_sha256: str = ""  # the runtime ends the session once its token is rotated or revoked


class StaffSessionRepository(SessionRepository):
    def __init__(self, session: Session) -> None:
        super().__init__(session, SESSIONS)


def staff_signed_in(session: Session, session_id: str, now: datetime) -> StaffSignedIn | None:
    """The live staff session of this id (a read model query), or None."""
    found = live_session(session, SESSIONS, session_id, now)
    if found is None:
        return None
    return StaffSignedIn(found.principal, found.user, found.csrf_token, found.token_sha256)
