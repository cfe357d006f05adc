"""Practice access: users and their tokens, issued, rotated, revoked (the access CLI).

Each command is a `Command` with its handler named in the service definition, run in one
unit of work like every other. Names are checked here, at the edge: a practice is an ODS
code (letters and digits, with at least one letter) and a username starts with a letter, so
neither can be an NHS number, and both go into audit lines and "seen by".
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ensemble_contracts import limits
from ensemble_runtime.definition import Command
from hospital_feed.adapters.access import LABEL, USERNAME, IssuedToken, PracticeUser, describe
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.rosters import RECIPIENT_CODE

# A practice's ODS code or a care team's code (e.g. COACH1): see domain/rosters.py.
_ODS = RECIPIENT_CODE
_USERNAME = re.compile(rf"[a-z][a-z0-9._@-]{{0,{USERNAME - 1}}}")


class AccessError(ValueError):
    """A request the access commands refuse; the message says why (never with a token)."""


def practice_code(value: str) -> str:
    code = value.strip().upper()
    if not _ODS.fullmatch(code):
        raise AccessError(
            f"a practice is an ODS code: 3-{limits.ODS_CODE} letters and digits, one a letter"
        )
    return code


def username(value: str) -> str:
    name = value.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise AccessError(
            f"a username starts with a letter, then letters, digits or . _ @ - "
            f"(at most {USERNAME} characters)"
        )
    return name


def label(value: str) -> str:
    text = value.strip()
    if len(text) > LABEL or not text.isprintable():
        raise AccessError(f"a label is at most {LABEL} printable characters")
    return text


@dataclass(frozen=True)
class AddUser(Command[None]):
    practice: str
    username: str


@dataclass(frozen=True)
class DisableUser(Command[int]):
    """No token of the user counts any more; returns how many were live (also revoked)."""

    practice: str
    username: str


@dataclass(frozen=True)
class IssueToken(Command[IssuedToken]):
    practice: str
    username: str
    label: str = ""
    lifetime: timedelta | None = None  # None: until revoked


@dataclass(frozen=True)
class RotateTokens(Command[tuple[IssuedToken, list[int]]]):
    """A new token; the user's live ones stay valid for `grace` more (no longer than they
    would have anyway). Returns the new token and the ids of the old ones now ending."""

    practice: str
    username: str
    grace: timedelta = timedelta(hours=24)
    label: str = ""
    lifetime: timedelta | None = None


@dataclass(frozen=True)
class RevokeToken(Command[bool]):
    """Revoke one token by id; False when there is none (or it was already revoked)."""

    token_id: int


@dataclass(frozen=True)
class RevokeUserTokens(Command[int]):
    """Revoke every token of a user; returns how many were revoked."""

    practice: str
    username: str


@dataclass(frozen=True)
class ListAccess(Command[list[dict[str, Any]]]):
    """Users and their tokens' metadata (never a token or a hash), by practice."""

    practice: str | None = None


def _existing(uow: HospitalFeedUnitOfWork, practice: str, name: str) -> PracticeUser:
    user = uow.access.user(practice_code(practice), username(name))
    if user is None:
        raise AccessError("no such user at that practice (add-user first)")
    return user


def _expiry(now: datetime, lifetime: timedelta | None) -> datetime | None:
    if lifetime is None:
        return None
    if lifetime <= timedelta(0):
        raise AccessError("a token's lifetime must be positive")
    return now + lifetime


def add_user(uow: HospitalFeedUnitOfWork, command: AddUser) -> None:
    practice, name = practice_code(command.practice), username(command.username)
    if uow.access.user(practice, name) is not None:
        raise AccessError("that user already exists at that practice")
    uow.access.add_user(practice, name, uow.clock())
    uow.commit()


def disable_user(uow: HospitalFeedUnitOfWork, command: DisableUser) -> int:
    user = _existing(uow, command.practice, command.username)
    now = uow.clock()
    if user.disabled_at is None:
        user.disabled_at = now
    revoked = uow.access.revoke_all(user, now)
    uow.commit()
    return revoked


def issue_token(uow: HospitalFeedUnitOfWork, command: IssueToken) -> IssuedToken:
    user = _existing(uow, command.practice, command.username)
    if user.disabled_at is not None:
        raise AccessError("that user is disabled")
    now = uow.clock()
    issued = uow.access.issue(user, label(command.label), now, _expiry(now, command.lifetime))
    uow.commit()
    return issued


def rotate_tokens(
    uow: HospitalFeedUnitOfWork, command: RotateTokens
) -> tuple[IssuedToken, list[int]]:
    if command.grace < timedelta(0):
        raise AccessError("the grace period cannot be negative")
    user = _existing(uow, command.practice, command.username)
    if user.disabled_at is not None:
        raise AccessError("that user is disabled")
    now = uow.clock()
    ending = now + command.grace
    old = uow.access.live_tokens(user, now)
    for token in old:
        if token.expires_at is None or token.expires_at > ending:
            token.expires_at = ending
    issued = uow.access.issue(user, label(command.label), now, _expiry(now, command.lifetime))
    uow.commit()
    return issued, [token.id for token in old if token.id is not None]


def revoke_token(uow: HospitalFeedUnitOfWork, command: RevokeToken) -> bool:
    token = uow.access.token(command.token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = uow.clock()
    uow.commit()
    return True


def revoke_user_tokens(uow: HospitalFeedUnitOfWork, command: RevokeUserTokens) -> int:
    user = _existing(uow, command.practice, command.username)
    revoked = uow.access.revoke_all(user, uow.clock())
    uow.commit()
    return revoked


def list_access(uow: HospitalFeedUnitOfWork, command: ListAccess) -> list[dict[str, Any]]:
    practice = practice_code(command.practice) if command.practice is not None else None
    now = uow.clock()
    return [describe(user, tokens, now) for user, tokens in uow.access.listing(practice)]


HANDLERS: dict[type[Any], Any] = {
    AddUser: add_user,
    DisableUser: disable_user,
    IssueToken: issue_token,
    RotateTokens: rotate_tokens,
    RevokeToken: revoke_token,
    RevokeUserTokens: revoke_user_tokens,
    ListAccess: list_access,
}
