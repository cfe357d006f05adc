"""The practice page's sign-in sessions, kept in the store (they outlive a restart), and
the store of page sessions both it and the staff page (adapters/staff_sessions.py) use.

The browser holds only an opaque random session id (a cookie); the store holds its sha256,
so a copy of the table lets nobody in. Each session carries its own CSRF token.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

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


class SessionTable:
    """One table of page sessions: its model, the column naming whose session it is (the
    practice's code, the staff token's principal), and the statements that end sessions."""

    def __init__(self, model: type[SQLModel], owner: str) -> None:
        table = cast(Table, model.__table__)  # type: ignore[attr-defined]
        self.model = model
        self.owner = owner
        self.expired = delete(table).where(table.c.expires_at <= bindparam("now"))
        self.ended = delete(table).where(table.c.session_sha256 == bindparam("sha"))


SESSIONS = SessionTable(PageSession, "practice_ods")


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


class SessionRepository:
    """Opens and closes the sessions of one table (the practice page's, the staff page's)."""

    def __init__(self, session: Session, table: SessionTable) -> None:
        self._session = session
        self._table = table

    def open(self, owner: str, user: str, now: datetime, lifetime: timedelta) -> str:
        """A new session (and expired ones gone); returns the id for the cookie."""
        core_sql(self._session).execute(self._table.expired, {"now": now})
        session_id = new_secret()
        self._session.add(
            self._table.model(
                session_sha256=session_sha256(session_id),
                user=user[:100],
                csrf_token=new_secret(),
                created_at=now,
                expires_at=now + lifetime,
                **{self._table.owner: owner},
            )
        )
        return session_id

    def close(self, session_id: str) -> None:
        core_sql(self._session).execute(self._table.ended, {"sha": session_sha256(session_id)})


class PageSessionRepository(SessionRepository):
    def __init__(self, session: Session) -> None:
        super().__init__(session, SESSIONS)


def live_session(session: Session, table: SessionTable, session_id: str, now: datetime) -> Any:
    """The row of the live session of this id in this table, or None if none or expired."""
    found = session.get(table.model, session_sha256(session_id))
    if found is None or found.expires_at <= now:  # type: ignore[attr-defined]
        return None
    return found


def signed_in(session: Session, session_id: str, now: datetime) -> SignedIn | None:
    """The live session of this id (a read model query), or None if none or expired."""
    found = live_session(session, SESSIONS, session_id, now)
    if found is None:
        return None
    return SignedIn(found.practice_ods, found.user, found.csrf_token)
