"""The staff message page's sign-in sessions: as the practice page's (adapters/sessions.py),
in a table of their own, so a staff session can never be taken for a practice's or the
other way round.

The browser holds only an opaque random id (a cookie); the store keeps its sha256 and the
session's own CSRF token.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Index, Table, bindparam, delete
from sqlmodel import Field, Session, SQLModel

from ensemble_runtime.db import UtcDateTime, core_sql
from hospital_feed.adapters.sessions import new_secret, session_sha256


class StaffSession(SQLModel, table=True):
    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_expires_at", "expires_at"),)

    session_sha256: str = Field(primary_key=True, max_length=64)
    principal: str = Field(max_length=100)  # the staff token's principal
    user: str = Field(max_length=100)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


SESSIONS = cast(Table, StaffSession.__table__)  # type: ignore[attr-defined]
_EXPIRED = delete(SESSIONS).where(SESSIONS.c.expires_at <= bindparam("now"))
_ENDED = delete(SESSIONS).where(SESSIONS.c.session_sha256 == bindparam("sha"))


@dataclass(frozen=True)
class StaffSignedIn:
    principal: str
    user: str
    csrf_token: str


class StaffSessionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def open(self, principal: str, user: str, now: datetime, lifetime: timedelta) -> str:
        """A new session (and expired ones gone); returns the id for the cookie."""
        core_sql(self._session).execute(_EXPIRED, {"now": now})
        session_id = new_secret()
        self._session.add(
            StaffSession(
                session_sha256=session_sha256(session_id),
                principal=principal[:100],
                user=user[:100],
                csrf_token=new_secret(),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return session_id

    def close(self, session_id: str) -> None:
        core_sql(self._session).execute(_ENDED, {"sha": session_sha256(session_id)})


def staff_signed_in(session: Session, session_id: str, now: datetime) -> StaffSignedIn | None:
    """The live staff session of this id (a read model query), or None."""
    found = session.get(StaffSession, session_sha256(session_id))
    if found is None or found.expires_at <= now:
        return None
    return StaffSignedIn(found.principal, found.user, found.csrf_token)
