"""The practice page's sign-in sessions, kept in the store (they outlive a restart), in the
runtime's session store (ensemble_runtime.page_sessions) on a table of their own.

The browser holds only an opaque random session id (a cookie); the store holds its sha256,
so a copy of the table lets nobody in. Each session carries its own CSRF token, and the sha256
of the token it signed in with: a token held in this store (adapters/access.py) is checked at
every request in the same query that finds the session, so a revoke, the token's expiry or
its user's disable ends the session at its next request, as it refuses the token itself.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Index, Table, and_, bindparam, or_, select
from sqlmodel import Field, Session, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.page_sessions import (
    SessionRepository,
    SessionTable,
    new_secret,
    session_sha256,
)
from ensemble_runtime.prepared import Prepared
from hospital_feed.adapters.access import TOKENS, USERS

__all__ = ["PageSession", "PageSessionRepository", "SignedIn", "new_secret", "session_sha256"]


class PageSession(SQLModel, table=True):
    __tablename__ = "page_sessions"
    __table_args__ = (Index("ix_page_sessions_expires_at", "expires_at"),)

    session_sha256: str = Field(primary_key=True, max_length=64)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    user: str = Field(max_length=100)
    csrf_token: str = Field(max_length=64)
    # Of the token that signed in (migration 0013); "" for sessions of a store-held token
    # opened before it was kept, which go on until they expire.
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


_TABLE = cast(Table, PageSession.__table__)  # type: ignore[attr-defined]
# The one query per page request (prepared, ADR 7): the session by its key, and the store's
# token of the same sha256 if there is one (its unique index), with whether it still holds
# (the conditions of access.practice_caller).
_LIVE = Prepared(
    select(
        _TABLE.c.practice_ods,
        _TABLE.c.user,
        _TABLE.c.csrf_token,
        _TABLE.c.token_sha256,
        TOKENS.c.id,
        and_(
            TOKENS.c.revoked_at.is_(None),
            or_(TOKENS.c.expires_at.is_(None), TOKENS.c.expires_at > bindparam("now")),
            USERS.c.disabled_at.is_(None),
        ),
    )
    .select_from(
        _TABLE.outerjoin(TOKENS, TOKENS.c.token_sha256 == _TABLE.c.token_sha256).outerjoin(
            USERS, USERS.c.id == TOKENS.c.user_id
        )
    )
    .where(_TABLE.c.session_sha256 == bindparam("sha"), _TABLE.c.expires_at > bindparam("now"))
)


def signed_in(session: Session, session_id: str, now: datetime) -> SignedIn | None:
    """The live session of this id (a read model query), or None if none, expired, or its
    store-held token no longer holds. A session of an env or file token keeps its sha256 (the
    runtime checks those); one of a store-held token that holds reports none."""
    row = _LIVE.execute(session, {"sha": session_sha256(session_id), "now": now}).first()
    if row is None:
        return None
    practice_ods, user, csrf_token, sha256, store_token, holds = row
    if store_token is None:
        return SignedIn(practice_ods, user, csrf_token, sha256)
    return SignedIn(practice_ods, user, csrf_token) if holds else None
