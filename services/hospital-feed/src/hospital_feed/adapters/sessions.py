"""The practice page's sign-in sessions, kept in the store (they outlive a restart).

The browser holds only an opaque random session id (a cookie); the store holds its sha256,
so a copy of the table lets nobody in. Each session carries its own CSRF token.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Index, Table, bindparam, delete
from sqlmodel import Field, Session, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime, core_sql


class PageSession(SQLModel, table=True):
    __tablename__ = "page_sessions"
    __table_args__ = (Index("ix_page_sessions_expires_at", "expires_at"),)

    session_sha256: str = Field(primary_key=True, max_length=64)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    user: str = Field(max_length=100)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


SESSIONS = cast(Table, PageSession.__table__)  # type: ignore[attr-defined]
_EXPIRED = delete(SESSIONS).where(SESSIONS.c.expires_at <= bindparam("now"))
_ENDED = delete(SESSIONS).where(SESSIONS.c.session_sha256 == bindparam("sha"))


@dataclass(frozen=True)
class SignedIn:
    """Who a live session belongs to."""

    practice_ods: str
    user: str
    csrf_token: str


def session_sha256(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    """An unguessable value for a cookie or form (256 bits, URL-safe, 43 characters)."""
    return secrets.token_urlsafe(32)


class PageSessionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def open(self, practice_ods: str, user: str, now: datetime, lifetime: timedelta) -> str:
        """A new session (and expired ones gone); returns the id for the cookie."""
        core_sql(self._session).execute(_EXPIRED, {"now": now})
        session_id = new_secret()
        self._session.add(
            PageSession(
                session_sha256=session_sha256(session_id),
                practice_ods=practice_ods,
                user=user[:100],
                csrf_token=new_secret(),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
        return session_id

    def close(self, session_id: str) -> None:
        core_sql(self._session).execute(_ENDED, {"sha": session_sha256(session_id)})


def signed_in(session: Session, session_id: str, now: datetime) -> SignedIn | None:
    """The live session of this id (a read model query), or None if none or expired."""
    found = session.get(PageSession, session_sha256(session_id))
    if found is None or found.expires_at <= now:
        return None
    return SignedIn(found.practice_ods, found.user, found.csrf_token)
