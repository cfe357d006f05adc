"""`ensemble tokens ...`: found through the entry points this package declares,
managing tokens on the store named by HOSPITAL_FEED_DATABASE_URL, as the service reads it."""

import json
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ensemble_runtime.ops_cli import Registry, build_app
from ensemble_runtime.ops_cli.registry import COMMANDS_GROUP, SERVICES_GROUP, TOKENS_GROUP

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
runner = CliRunner()


def declared(group: str) -> list[EntryPoint]:
    """The entry points pyproject.toml declares (installed once the workspace is synced)."""
    points = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"].get(group, {})
    return [EntryPoint(name, value, group) for name, value in points.items()]


@pytest.fixture
def ensemble(tmp_path: Path) -> Any:
    registry = Registry.from_entry_points(
        declared(SERVICES_GROUP), declared(COMMANDS_GROUP), declared(TOKENS_GROUP)
    )
    app = build_app(registry)
    env = {"HOSPITAL_FEED_DATABASE_URL": f"sqlite:///{tmp_path / 'feed.db'}"}

    def run(*args: str) -> tuple[int, Any, str]:
        result = runner.invoke(app, list(args), env=env)
        as_json = "--json" in args and result.exit_code == 0
        return (
            result.exit_code,
            json.loads(result.stdout) if as_json else result.stdout,
            result.stderr,
        )

    return run


def test_the_entry_points_name_the_service_and_its_commands(ensemble: Any) -> None:
    code, shown, _ = ensemble("services", "--json")
    assert code == 0
    assert shown == {
        "services": [{"name": "hospital-feed", "commands": False, "tokens": True}],
        "broken": {},
    }
    for command in ("", "issue", "list", "revoke", "rotate", "provision"):
        code, out, _ = ensemble("tokens", *command.split(), "--help")
        assert code == 0 and "Usage:" in out


def test_issue_list_revoke(ensemble: Any) -> None:
    who = ["--practice", "L85001", "--username", "alice"]
    assert ensemble("tokens", "add-user", *who)[0] == 0
    code, issued, _ = ensemble("tokens", "issue", *who, "--label", "laptop", "--json")
    assert code == 0
    assert issued["token"] and issued["practice"] == "L85001"

    code, listed, _ = ensemble("tokens", "list", "--json")
    assert code == 0
    (user,) = listed["users"]
    (token,) = user["tokens"]
    assert (token["token_id"], token["label"], token["state"]) == (
        issued["token_id"],
        "laptop",
        "valid",
    )
    assert issued["token"] not in json.dumps(listed)  # never shown again

    code, revoked, _ = ensemble("tokens", "revoke", "--token-id", str(issued["token_id"]), "--json")
    assert (code, revoked) == (0, {"token_id": issued["token_id"], "revoked": 1})
    code, listed, _ = ensemble("tokens", "list", "--json")
    assert listed["users"][0]["tokens"][0]["state"] == "revoked"

    # The generic commands work on the same store: the tokens' migrations ran.
    code, status, _ = ensemble("migrations", "status", "--json", "--check")
    assert code == 0 and status["up_to_date"] is True


def test_refusals_are_one_line(ensemble: Any) -> None:
    code, _, err = ensemble("tokens", "revoke")
    assert code == 1
    assert err.strip().splitlines() == [
        "ensemble-hospital-feed-access: revoke takes --token-id, or --practice and --username"
    ]
    code, _, err = ensemble(
        "tokens",
        "issue",
        "--practice",
        "L85001",
        "--username",
        "a",
        "--expires-days",
        "0",
    )
    assert code == 2 and "Traceback" not in err  # a usage error of ensemble, before any work


def test_provision_adds_missing_users_and_rotates_their_tokens(ensemble: Any) -> None:
    users = ["--user", "L85001:alice", "--user", "COACH1:hub"]
    code, first, _ = ensemble("tokens", "provision", *users, "--json")
    assert code == 0
    assert [(t["practice"], t["username"]) for t in first["tokens"]] == [
        ("L85001", "alice"),
        ("COACH1", "hub"),
    ]
    code, again, _ = ensemble("tokens", "provision", *users, "--json")  # a rerun: new tokens
    assert code == 0
    assert {t["token"] for t in again["tokens"]}.isdisjoint(t["token"] for t in first["tokens"])
    code, listed, _ = ensemble("tokens", "list", "--json")
    states = sorted(token["state"] for user in listed["users"] for token in user["tokens"])
    assert len(listed["users"]) == 2 and states.count("valid") == 2  # grace 0: old ones end
    code, _, err = ensemble("tokens", "provision", "--user", "alice")
    assert code == 2 and "expected PRACTICE:USERNAME" in err and "Traceback" not in err
