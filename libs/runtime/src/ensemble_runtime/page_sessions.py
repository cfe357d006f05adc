"""Sign-in sessions of server-rendered pages, kept in each service's own store (they outlive
a restart): the settings, the columns, and the repository that opens and closes them.

The browser holds only an opaque random session id (a cookie); the store holds its sha256,
so a copy of the table lets nobody in. Each session carries its own CSRF token. Each service
names its own table (table names are unique across services): hospital-feed keeps its two
(`page_sessions`, `staff_sessions`); others subclass `PageSessionColumns`, whose `kind`
column says which caller kind signed in ("staff", "practice").
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import Field as SettingField
from sqlalchemy import Table, bindparam, delete
from sqlmodel import Field, Session, SQLModel

from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.db import UtcDateTime, core_sql


class PageSessionSettings(ServiceSettings):
    """The settings of a service with signed-in pages."""

    page_cookie_secure: bool = False
    """The pages' session cookie is Secure (false only for plain HTTP on localhost; over HTTPS it
    is Secure anyway)."""
    page_session_hours: float = SettingField(default=12.0, gt=0, le=24 * 7)
    """How long a page session lasts after sign-in."""


class PageSessionColumns(SQLModel):
    """The columns of a page session table: a service's model adds `table=True`, its
    `__tablename__` and an index on `expires_at` (its migration creates both)."""

    session_sha256: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=20)  # the caller kind of the token that signed in
    principal: str = Field(max_length=100)  # that token's principal (an ODS code, ...)
    user: str = Field(max_length=100)
    csrf_token: str = Field(max_length=64)
    # The sha256 of the token that signed in: the session ends at its next request once that
    # token is rotated or revoked (a store-held token's, the service's `live` query checks).
    token_sha256: str = Field(default="", max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)


class SessionTable:
    """One table of page sessions: its model, the column naming whose session it is (the
    practice's code, the token's principal), the columns of the caller kind and of the
    token's sha256 if it has them, and the statements that end sessions."""

    def __init__(
        self,
        model: type[SQLModel],
        owner: str,
        kind: str | None = None,
        digest_column: str | None = None,
    ) -> None:
        table = cast(Table, model.__table__)  # type: ignore[attr-defined]
        self.model = model
        self.owner = owner
        self.kind = kind
        self.digest_column = digest_column
        self.expired = delete(table).where(table.c.expires_at <= bindparam("now"))
        self.ended = delete(table).where(table.c.session_sha256 == bindparam("sha"))


def session_table(model: type[PageSessionColumns]) -> SessionTable:
    """The table of a `PageSessionColumns` model."""
    return SessionTable(model, "principal", "kind", "token_sha256")


@dataclass(frozen=True)
class SignedIn:
    """Who a live session of a `PageSessionColumns` table belongs to."""

    kind: str
    principal: str
    user: str
    csrf_token: str
    token_sha256: str = ""  # of the env or file token that signed in (auth.token_sha256)


def session_sha256(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    """An unguessable value for a cookie or form (256 bits, URL-safe, 43 characters)."""
    return secrets.token_urlsafe(32)


class SessionRepository:
    """Opens and closes the sessions of one table."""

    def __init__(self, session: Session, table: SessionTable) -> None:
        self._session = session
        self._table = table

    def open(
        self,
        owner: str,
        user: str,
        now: datetime,
        lifetime: timedelta,
        kind: str = "",
        token_sha256: str = "",
    ) -> str:
        """A new session (and expired ones gone); returns the id for the cookie."""
        core_sql(self._session).execute(self._table.expired, {"now": now})
        session_id = new_secret()
        columns = {self._table.owner: owner[:100]}
        if self._table.kind is not None:
            columns[self._table.kind] = kind
        if self._table.digest_column is not None:
            columns[self._table.digest_column] = token_sha256
        self._session.add(
            self._table.model(
                session_sha256=session_sha256(session_id),
                user=user[:100],
                csrf_token=new_secret(),
                created_at=now,
                expires_at=now + lifetime,
                **columns,
            )
        )
        return session_id

    def close(self, session_id: str) -> None:
        core_sql(self._session).execute(self._table.ended, {"sha": session_sha256(session_id)})


def live_session(session: Session, table: SessionTable, session_id: str, now: datetime) -> Any:
    """The row of the live session of this id in this table, or None if none or expired."""
    found = session.get(table.model, session_sha256(session_id))
    if found is None or found.expires_at <= now:  # type: ignore[attr-defined]
        return None
    return found


def signed_in_to(table: SessionTable) -> Callable[[Session, str, datetime], SignedIn | None]:
    """The read model query of a `PageSessionColumns` table: (session, id, now) -> who."""

    def signed_in(session: Session, session_id: str, now: datetime) -> SignedIn | None:
        found = live_session(session, table, session_id, now)
        if found is None:
            return None
        return SignedIn(
            found.kind, found.principal, found.user, found.csrf_token, found.token_sha256
        )

    return signed_in
