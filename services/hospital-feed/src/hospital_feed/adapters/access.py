"""Practice users and their bearer tokens, kept in hospital-feed's own store (issue 9).

A token is shown once, when it is issued; the store keeps only its SHA-256. Tokens are 32
random bytes from `secrets.token_urlsafe` (256 bits of entropy), so a plain, unsalted,
fast hash is the right one: salting and key stretching (bcrypt, scrypt, argon2) exist to
slow down guessing of low-entropy secrets such as passwords, and nobody can enumerate 2**256
candidates however fast the hash. A plain hash also lets the check be one indexed equality
lookup per request, instead of a costly KDF against every candidate row. A copy of the
table lets nobody in.

`practice_caller` is the store lookup the runtime runs for "practice" bearer tokens (see
`ensemble_runtime.auth.authenticate`): one SELECT by hash, nothing cached, so a revoke,
expiry or disabled user is refused by the very next request.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Index, Table, UniqueConstraint, bindparam, or_, select, update
from sqlmodel import Field, Session, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.auth import Caller
from ensemble_runtime.db import UtcDateTime, core_sql
from ensemble_runtime.prepared import Prepared

USERNAME = 100  # as seen_by / actioned_by, which record it
LABEL = 100
MAX_PRESENTED = 200  # longer bearer values are no token of ours: refused without a query


class PracticeUser(SQLModel, table=True):
    """A person at a practice (or other recipient) who may read its alerts."""

    __tablename__ = "practice_users"
    __table_args__ = (
        UniqueConstraint("practice_ods", "username", name="uq_practice_users_practice_username"),
    )

    id: int | None = Field(default=None, primary_key=True)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    username: str = Field(max_length=USERNAME)
    created_at: datetime = Field(sa_type=UtcDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PracticeToken(SQLModel, table=True):
    """One bearer token of a user: its hash only. Valid while not revoked, not expired and
    its user not disabled."""

    __tablename__ = "practice_tokens"
    __table_args__ = (Index("ix_practice_tokens_user_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="practice_users.id")
    token_sha256: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=LABEL)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


USERS = cast(Table, PracticeUser.__table__)  # type: ignore[attr-defined]
TOKENS = cast(Table, PracticeToken.__table__)  # type: ignore[attr-defined]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


# The one query per practice request (prepared, ADR 7): the unique index on token_sha256
# finds the row.
_CALLER = Prepared(
    select(USERS.c.practice_ods, USERS.c.username)
    .select_from(TOKENS.join(USERS, USERS.c.id == TOKENS.c.user_id))
    .where(
        TOKENS.c.token_sha256 == bindparam("sha"),
        TOKENS.c.revoked_at.is_(None),
        or_(TOKENS.c.expires_at.is_(None), TOKENS.c.expires_at > bindparam("now")),
        USERS.c.disabled_at.is_(None),
    )
)


def practice_caller(session: Session, token: str, now: datetime) -> Caller | None:
    """The practice (principal) and user of a valid token, or None (a read model query)."""
    if not token or len(token) > MAX_PRESENTED:
        return None
    row = _CALLER.execute(session, {"sha": token_sha256(token), "now": now}).first()
    if row is None:
        return None
    practice_ods, username = row
    return Caller(practice_ods, username)


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: the plaintext is here, and nowhere else, once."""

    token_id: int
    token: str
    expires_at: datetime | None


def token_state(token: PracticeToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "valid"


class AccessRepository:
    """Users and tokens, for the access commands (service_layer/access.py)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def user(self, practice_ods: str, username: str) -> PracticeUser | None:
        statement = select(PracticeUser).where(
            USERS.c.practice_ods == practice_ods, USERS.c.username == username
        )
        return self._session.scalars(statement).first()

    def add_user(self, practice_ods: str, username: str, now: datetime) -> PracticeUser:
        user = PracticeUser(practice_ods=practice_ods, username=username, created_at=now)
        self._session.add(user)
        self._session.flush()  # the unique constraint speaks here; the id is known
        return user

    def issue(
        self, user: PracticeUser, label: str, now: datetime, expires_at: datetime | None
    ) -> IssuedToken:
        assert user.id is not None
        token = new_token()
        row = PracticeToken(
            user_id=user.id,
            token_sha256=token_sha256(token),
            label=label,
            created_at=now,
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        assert row.id is not None
        return IssuedToken(row.id, token, expires_at)

    def live_tokens(self, user: PracticeUser, now: datetime) -> list[PracticeToken]:
        rows = self._session.scalars(
            select(PracticeToken).where(TOKENS.c.user_id == user.id).order_by(TOKENS.c.id)
        )
        return [row for row in rows if token_state(row, now) == "valid"]

    def token(self, token_id: int) -> PracticeToken | None:
        return self._session.get(PracticeToken, token_id)

    def revoke_all(self, user: PracticeUser, now: datetime) -> int:
        result = core_sql(self._session).execute(
            update(TOKENS)
            .where(TOKENS.c.user_id == user.id, TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    def listing(self, practice_ods: str | None) -> list[tuple[PracticeUser, list[PracticeToken]]]:
        users_query = select(PracticeUser).order_by(USERS.c.practice_ods, USERS.c.username)
        if practice_ods is not None:
            users_query = users_query.where(USERS.c.practice_ods == practice_ods)
        users = list(self._session.scalars(users_query))
        tokens: dict[int, list[PracticeToken]] = {}
        if users:
            ids = [user.id for user in users]
            rows = self._session.scalars(
                select(PracticeToken).where(TOKENS.c.user_id.in_(ids)).order_by(TOKENS.c.id)
            )
            for row in rows:
                tokens.setdefault(row.user_id, []).append(row)
        return [(user, tokens.get(cast(int, user.id), [])) for user in users]


def describe(user: PracticeUser, tokens: list[PracticeToken], now: datetime) -> dict[str, Any]:
    """A user and its tokens for `list`: never a token or its hash."""
    return {
        "practice": user.practice_ods,
        "username": user.username,
        "created_at": user.created_at.isoformat(),
        "disabled_at": user.disabled_at.isoformat() if user.disabled_at else None,
        "tokens": [
            {
                "token_id": token.id,
                "label": token.label,
                "state": token_state(token, now),
                "created_at": token.created_at.isoformat(),
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
            }
            for token in tokens
        ],
    }
