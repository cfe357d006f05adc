"""Practice users and tokens from the access CLI, checked by the HTTP app on every request.

The CLI migrates the store; the kit is then built on the same store with the same frozen
clock, so a token issued by the CLI is presented to the app as a client would present it.
"""

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import text

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.testkit import FrozenClock
from hospital_feed.config import Settings
from hospital_feed.entrypoints import access_cli

from ..samples import adt
from ..support import FeedKit, feed_kit, receive

ALERTS = "/v1/practices/L85001/alerts"
NHS = "9990000018"


class Access:
    """The CLI on one store, and the app on it (built on first use, after the migration)."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = f"sqlite:///{tmp_path / 'feed.db'}"
        self.clock = FrozenClock()
        self._capsys = capsys
        self._kit: FeedKit | None = None

    def cli(self, *args: str) -> tuple[int, Any]:
        """Run the CLI with --json: its exit code and what it printed (parsed)."""
        self._capsys.readouterr()
        code = access_cli.main(
            ["--json", *args], settings=Settings(database_url=self.url), clock=self.clock
        )
        out = self._capsys.readouterr().out
        return code, json.loads(out) if code == 0 else None

    def issue(self, *args: str) -> dict[str, Any]:
        code, shown = self.cli("issue", "--practice", "L85001", "--username", "alice", *args)
        assert code == 0
        return dict(shown)

    @property
    def kit(self) -> FeedKit:
        if self._kit is None:
            self._kit = feed_kit(self.url, clock=self.clock)
        return self._kit

    def client(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.kit.service.app),
            base_url="http://hospital-feed",
            headers={"Authorization": f"Bearer {token}"},
        )

    async def status(self, token: str, path: str = ALERTS) -> int:
        async with self.client(token) as http:
            return (await http.get(path)).status_code

    def close(self) -> None:
        if self._kit is not None:
            self._kit.dispose()


@pytest.fixture
def access(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Access]:
    made = Access(tmp_path, capsys)
    assert made.cli("add-user", "--practice", "l85001", "--username", "Alice")[0] == 0
    yield made
    made.close()


async def test_an_issued_token_reads_its_practice_s_alerts_only(access: Access) -> None:
    issued = access.issue("--label", "reception pc")
    assert issued["practice"] == "L85001"
    assert issued["username"] == "alice"
    assert len(issued["token"]) >= 43
    assert await access.status(issued["token"]) == 200
    assert await access.status(issued["token"], "/v1/practices/L85002/alerts") == 403
    assert await access.status(issued["token"], "/v1/messages") == 401  # no staff token


async def test_the_store_keeps_only_the_hash_and_list_shows_neither(access: Access) -> None:
    issued = access.issue()
    code, listed = access.cli("list", "--practice", "L85001")
    assert code == 0
    assert listed["users"][0]["username"] == "alice"
    (token,) = listed["users"][0]["tokens"]
    assert (token["token_id"], token["state"]) == (issued["token_id"], "valid")
    columns = set(token) | set(listed["users"][0])
    assert not any("sha" in name or name == "token" for name in columns)

    def everything(session: Any) -> str:
        rows = [
            *session.execute(text("SELECT * FROM practice_tokens")),
            *session.execute(text("SELECT * FROM practice_users")),
        ]
        return repr([tuple(row) for row in rows])

    stored = access.kit.read(everything)
    assert issued["token"] not in stored
    assert access_hash(issued["token"]) in stored
    assert issued["token"] not in json.dumps(listed)
    assert access_hash(issued["token"]) not in json.dumps(listed)


def access_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_rotation_keeps_both_tokens_valid_for_the_grace_only(access: Access) -> None:
    old = access.issue()
    code, rotated = access.cli(
        "rotate", "--practice", "L85001", "--username", "alice", "--grace-hours", "2"
    )
    assert code == 0
    assert rotated["old_token_ids"] == [old["token_id"]]
    assert rotated["token"] != old["token"]
    assert await access.status(old["token"]) == 200
    assert await access.status(rotated["token"]) == 200
    access.clock.advance(hours=1, minutes=59)
    assert await access.status(old["token"]) == 200
    access.clock.advance(minutes=1)  # the grace has ended
    assert await access.status(old["token"]) == 401
    assert await access.status(rotated["token"]) == 200


async def test_provision_adds_who_is_missing_and_a_rerun_replaces_their_tokens(
    access: Access,
) -> None:
    users = ("--user", "L85001:alice", "--user", "l85002:Bob")
    code, first = access.cli("provision", *users)
    assert code == 0
    assert [(t["practice"], t["username"]) for t in first["tokens"]] == [
        ("L85001", "alice"),  # already there: not added twice
        ("L85002", "bob"),
    ]
    assert await access.status(first["tokens"][1]["token"], "/v1/practices/L85002/alerts") == 200
    code, again = access.cli("provision", *users)
    assert code == 0
    # The default grace is none: a rerun's tokens replace the first run's at once.
    assert await access.status(first["tokens"][0]["token"]) == 401
    assert await access.status(again["tokens"][0]["token"]) == 200
    _, listed = access.cli("list")
    assert sorted((u["practice"], u["username"]) for u in listed["users"]) == [
        ("L85001", "alice"),
        ("L85002", "bob"),
    ]


async def test_a_revoked_token_is_refused_by_the_next_request(access: Access) -> None:
    first, second = access.issue(), access.issue()
    assert await access.status(first["token"]) == 200
    code, done = access.cli("revoke", "--token-id", str(first["token_id"]))
    assert (code, done["revoked"]) == (0, 1)
    assert await access.status(first["token"]) == 401  # the same app, no restart
    assert await access.status(second["token"]) == 200
    code, done = access.cli("revoke", "--practice", "L85001", "--username", "alice")
    assert (code, done["revoked"]) == (0, 1)
    assert await access.status(second["token"]) == 401
    code, done = access.cli("revoke", "--token-id", str(first["token_id"]))
    assert (code, done["revoked"]) == (0, 0)  # already revoked


async def test_a_disabled_user_s_tokens_are_refused(access: Access) -> None:
    issued = access.issue()
    assert await access.status(issued["token"]) == 200
    code, done = access.cli("disable-user", "--practice", "L85001", "--username", "alice")
    assert (code, done["revoked"]) == (0, 1)
    assert await access.status(issued["token"]) == 401
    assert access.cli("issue", "--practice", "L85001", "--username", "alice")[0] == 1


async def test_a_token_with_a_lifetime_ends_with_it(access: Access) -> None:
    issued = access.issue("--expires-days", "1")
    access.clock.advance(hours=23)
    assert await access.status(issued["token"]) == 200
    access.clock.advance(hours=1)
    assert await access.status(issued["token"]) == 401


async def test_a_practice_read_is_audited_with_its_user_and_no_nhs_number(
    access: Access,
) -> None:
    issued = access.issue()
    receive(access.kit, adt(practice="L85001", nhs=NHS, control_id="C1"))
    for event in access.kit.published(HOSPITAL_ENCOUNTERS):
        access.kit.consume(event)
    with structlog.testing.capture_logs() as logs:
        async with access.client(issued["token"]) as http:
            answer = await http.get(ALERTS)
    assert [alert["nhs_number"] for alert in answer.json()["alerts"]] == [NHS]
    audit = [line for line in logs if line["event"] == "audit"]
    assert audit == [
        {
            "event": "audit",
            "log_level": "info",
            "principal_kind": "practice",
            "principal": "L85001",
            "user": "alice",
            "method": "GET",
            "route": "/v1/practices/{ods}/alerts",
            "status": 200,
        }
    ]
    assert NHS not in json.dumps(logs)
    assert issued["token"] not in json.dumps(logs)


async def test_env_practice_tokens_still_work_and_are_audited_as_the_practice(
    access: Access,
) -> None:
    with structlog.testing.capture_logs() as logs:
        async with access.kit.client("practice", "L85002") as http:
            assert (await http.get("/v1/practices/L85002/alerts")).status_code == 200
            assert (await http.get(ALERTS)).status_code == 403
    audit = [
        (line["principal"], line["user"], line["status"])
        for line in logs
        if line["event"] == "audit"
    ]
    assert audit == [("L85002", "L85002", 200), ("L85002", "L85002", 403)]


@pytest.mark.parametrize(
    "args",
    [
        ["add-user", "--practice", "L85001", "--username", "alice"],  # already there
        ["add-user", "--practice", "9990000018", "--username", "bob"],  # not an ODS code
        ["add-user", "--practice", "L85001", "--username", "9990000018"],  # not a username
        ["issue", "--practice", "L85001", "--username", "bob"],  # no such user
        ["issue", "--practice", "L85002", "--username", "alice"],  # alice is at L85001
        ["rotate", "--practice", "L85001", "--username", "bob"],
        ["revoke"],  # neither a token nor a user
        ["revoke", "--token-id", "1", "--practice", "L85001", "--username", "alice"],
        ["revoke", "--practice", "L85001"],
    ],
)
def test_the_cli_refuses_what_it_cannot_do(access: Access, args: list[str]) -> None:
    code, _ = access.cli(*args)
    assert code == 1
    code, listed = access.cli("list")
    assert [(u["practice"], u["username"], u["tokens"]) for u in listed["users"]] == [
        ("L85001", "alice", [])
    ]


def test_the_text_output_prints_the_token_once_and_list_never(
    access: Access, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=access.url)
    capsys.readouterr()
    argv = ["issue", "--practice", "L85001", "--username", "alice", "--label", "x"]
    assert access_cli.main(argv, settings=settings, clock=access.clock) == 0
    printed = capsys.readouterr().out
    token = printed.splitlines()[1]
    assert len(token) >= 43
    assert "cannot be shown again" in printed
    assert access_cli.main(["list"], settings=settings, clock=access.clock) == 0
    listing = capsys.readouterr().out
    assert "L85001 alice" in listing
    assert "token 1 'x': valid" in listing
    assert token not in listing
