"""Practice users and hashed tokens on SQLite and PostgreSQL: the lookup the app runs per
request, and the access commands on a migrated store."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ensemble_devkit.testkit import FrozenClock, token
from ensemble_runtime.auth import Caller
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate
from hospital_feed.adapters import sessions
from hospital_feed.adapters.access import practice_caller, token_sha256
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer.access import (
    AccessError,
    AddUser,
    DisableUser,
    IssueToken,
    ListAccess,
    RevokeToken,
    RotateTokens,
)

from ..support import FeedKit, feed_kit


@pytest.fixture
def kit(database_url: str) -> Iterator[FeedKit]:
    engine = create_db_engine(database_url)
    migrate(engine, DEFINITION.migrations)  # the tables as the migrations make them
    engine.dispose()
    made = feed_kit(database_url, clock=FrozenClock())
    made.execute(AddUser("L85001", "alice"))
    yield made
    made.dispose()


def caller(kit: FeedKit, token: str) -> Caller | None:
    return kit.read(practice_caller, token, kit.clock())


def test_a_valid_token_names_practice_and_user_and_nothing_else_does(kit: FeedKit) -> None:
    issued = kit.execute(IssueToken("L85001", "alice", "laptop", timedelta(days=1)))
    assert caller(kit, issued.token) == Caller("L85001", "alice")
    assert caller(kit, issued.token + "x") is None
    assert caller(kit, "") is None
    assert caller(kit, token_sha256(issued.token)) is None  # the hash is no token
    kit.clock.advance(days=1)
    assert caller(kit, issued.token) is None  # expired


def test_revoked_tokens_and_disabled_users_count_for_nothing(kit: FeedKit) -> None:
    kept = kit.execute(IssueToken("L85001", "alice"))
    revoked = kit.execute(IssueToken("L85001", "alice"))
    assert kit.execute(RevokeToken(revoked.token_id)) is True
    assert caller(kit, revoked.token) is None
    assert caller(kit, kept.token) == Caller("L85001", "alice")
    assert kit.execute(DisableUser("L85001", "alice")) == 1
    assert caller(kit, kept.token) is None
    with pytest.raises(AccessError, match="disabled"):
        kit.execute(IssueToken("L85001", "alice"))


def test_rotation_ends_the_old_tokens_after_the_grace(kit: FeedKit) -> None:
    old = kit.execute(IssueToken("L85001", "alice"))
    soon = kit.execute(IssueToken("L85001", "alice", lifetime=timedelta(hours=1)))
    new, ending = kit.execute(RotateTokens("L85001", "alice", timedelta(hours=24)))
    assert ending == [old.token_id, soon.token_id]
    kit.clock.advance(hours=1)
    assert caller(kit, soon.token) is None  # its own, earlier end is kept
    assert caller(kit, old.token) is not None
    kit.clock.advance(hours=23)
    assert caller(kit, old.token) is None
    assert caller(kit, new.token) == Caller("L85001", "alice")


def test_only_hashes_are_stored_and_names_are_unique_per_practice(kit: FeedKit) -> None:
    issued = kit.execute(IssueToken("L85001", "alice"))
    kit.execute(AddUser("L85002", "alice"))  # another practice may have its own alice

    def dump(session: Session) -> str:
        tables = ("practice_tokens", "practice_users")
        rows = [row for t in tables for row in session.execute(text(f"SELECT * FROM {t}"))]
        return repr([tuple(row) for row in rows])

    stored = kit.read(dump)
    assert issued.token not in stored
    assert token_sha256(issued.token) in stored
    with pytest.raises(AccessError, match="already exists"):
        kit.execute(AddUser("L85001", "ALICE"))
    with pytest.raises(IntegrityError), kit.unit_of_work() as uow:  # the constraint itself
        uow.access.add_user("L85001", "alice", kit.clock())
    listed = kit.execute(ListAccess())
    assert [(u["practice"], u["username"]) for u in listed] == [
        ("L85001", "alice"),
        ("L85002", "alice"),
    ]


def open_session(kit: FeedKit, sha256: str) -> str:
    """A page session of alice, signed in with the token of this sha256."""

    def run(uow: HospitalFeedUnitOfWork) -> str:
        lifetime = timedelta(hours=12)
        opened = uow.page_sessions.open("L85001", "alice", kit.clock(), lifetime, "", sha256)
        uow.commit()
        return opened

    return kit.run(run)


def page_user(kit: FeedKit, session_id: str) -> sessions.SignedIn | None:
    return kit.read(sessions.signed_in, session_id, kit.clock())


def test_a_page_session_holds_while_its_store_token_does(kit: FeedKit) -> None:
    """The page's one query per request: a store token's session ends with the token
    (revoked, expired, its user disabled); an env token's keeps its sha256 for the runtime."""
    revoked = kit.execute(IssueToken("L85001", "alice"))
    short = kit.execute(IssueToken("L85001", "alice", lifetime=timedelta(hours=1)))
    kept = kit.execute(IssueToken("L85001", "alice"))
    env_sha256 = token_sha256(token("practice", "L85001"))
    by_revoked, by_short, by_kept, by_env, from_before = (
        open_session(kit, sha256)
        for sha256 in (*(token_sha256(t.token) for t in (revoked, short, kept)), env_sha256, "")
    )
    held = page_user(kit, by_kept)
    assert held is not None and (held.practice_ods, held.user, held.token_sha256) == (
        "L85001",
        "alice",
        "",  # checked here: nothing for the runtime to look up
    )
    assert len(held.csrf_token) == 43
    env = page_user(kit, by_env)
    assert env is not None and env.token_sha256 == env_sha256
    assert kit.execute(RevokeToken(revoked.token_id)) is True
    assert page_user(kit, by_revoked) is None
    assert page_user(kit, by_short) is not None
    kit.clock.advance(hours=1)
    assert page_user(kit, by_short) is None
    assert page_user(kit, by_kept) is not None
    kit.execute(DisableUser("L85001", "alice"))
    assert page_user(kit, by_kept) is None
    assert page_user(kit, by_env) is not None  # the env token is no user's
    assert page_user(kit, from_before) is not None  # opened before tokens were kept
    assert page_user(kit, "no-such-session") is None
    kit.clock.advance(hours=11)
    assert page_user(kit, by_env) is None and page_user(kit, from_before) is None  # expired
