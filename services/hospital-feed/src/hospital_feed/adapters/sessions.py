"""The practice page's sign-in sessions, kept in the store (they outlive a restart), in the
runtime's session store (ensemble_runtime.page_sessions) on a table of their own.

The browser holds only an opaque random session id (a cookie); the store holds its sha256,
so a copy of the table lets nobody in. Each session carries its own CSRF token.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.page_sessions import (
    SessionRepository,
    SessionTable,
    live_session,
    new_secret,
    session_sha256,
)

__all__ = ["PageSession", "PageSessionRepository", "SignedIn", "new_secret", "session_sha256"]


class PageSession(SQLModel, table=True):
    __tablename__ = "page_sessions"
    __table_args__ = (Index("ix_page_sessions_expires_at", "expires_at"),)

    session_sha256: str = Field(primary_key=True, max_length=64)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    user: str = Field(max_length=100)
    csrf_token: str = Field(max_length=64)
    # Of an env or file token (migration 0013); "" for a token held in the store.
    token_sha256: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


SESSIONS = SessionTable(PageSession, "practice_ods", digest_column="token_sha256")


@dataclass(frozen=True)
class SignedIn:
    """Who a live session belongs to."""

    practice_ods: str
    user: str
    csrf_token: str
    token_sha256: str = ""  # the runtime ends the session once its token is rotated or revoked


class PageSessionRepository(SessionRepository):
    def __init__(self, session: Session) -> None:
        super().__init__(session, SESSIONS)


def signed_in(session: Session, session_id: str, now: datetime) -> SignedIn | None:
    """The live session of this id (a read model query), or None if none or expired."""
    found = live_session(session, SESSIONS, session_id, now)
    if found is None:
        return None
    return SignedIn(found.practice_ods, found.user, found.csrf_token, found.token_sha256)
