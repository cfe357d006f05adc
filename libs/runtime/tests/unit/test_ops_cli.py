"""`ensemble`: help everywhere, services found through entry points, and every failure said
in one line with its exit code (no broker, no store needed: none answers)."""

from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ensemble_runtime.ops_cli import Registry, build_app
from ensemble_runtime.ops_cli.registry import COMMANDS_GROUP, SERVICES_GROUP, TOKENS_GROUP

from .. import support

CLI_DEFINITION = support.definition(group="runtime-tests.cli")
SERVICE = CLI_DEFINITION.name
COMMANDS = [
    ["services"],
    ["dlq"],
    ["dlq", "list"],
    ["dlq", "show"],
    ["dlq", "replay"],
    ["dlq", "discard"],
    ["outbox", "status"],
    ["lag"],
    ["migrations"],
    ["migrations", "status"],
    ["migrations", "upgrade"],
]

extra = typer.Typer(help="The test service's own commands.")


@extra.command()
def hello(name: str) -> None:
    """Say hello (a service's own command)."""
    typer.echo(f"hello {name}")


tokens = typer.Typer(help="The test service's tokens.")


@tokens.command("list")
def list_tokens() -> None:
    """List tokens."""
    typer.echo("no tokens")


NOT_AN_APP = "a string, not a typer app"

runner = CliRunner()


def run(registry: Registry, *args: str, **env: str) -> tuple[int, str, str]:
    environment = {"ENSEMBLE_SERVICE": None, "DATABASE_URL": None, **env}
    result = runner.invoke(build_app(registry), list(args), env=environment)
    return result.exit_code, result.stdout, result.stderr


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text  # one line, never a traceback
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    code, out, _ = run(Registry.of([CLI_DEFINITION]), *command, "--help")
    assert code == 0
    assert "Usage:" in out


def test_services_are_found_through_entry_points_and_their_commands_mounted() -> None:
    module = __name__
    registry = Registry.from_entry_points(
        services=[EntryPoint(SERVICE, f"{module}:CLI_DEFINITION", SERVICES_GROUP)],
        commands=[
            EntryPoint(SERVICE, f"{module}:extra", COMMANDS_GROUP),
            EntryPoint("broken", f"{module}:NOT_AN_APP", COMMANDS_GROUP),
        ],
        tokens=[EntryPoint(SERVICE, f"{module}:tokens", TOKENS_GROUP)],
    )
    code, out, _ = run(registry, "services", "--json")
    assert code == 0
    assert '"name": "runtime-tests"' in out and '"commands": true' in out
    assert "is not a typer.Typer" in out  # a broken plugin is reported, not fatal
    assert run(registry, SERVICE, "hello", "ward") == (0, "hello ward\n", "")
    assert run(registry, "tokens", "list") == (0, "no tokens\n", "")  # the one keeping tokens


def test_tokens_of_several_services_are_one_group_each() -> None:
    other = replace(support.definition(group="runtime-tests.other"), name="second")
    registry = Registry.of([CLI_DEFINITION, other], tokens={SERVICE: tokens, "second": tokens})
    assert run(registry, "tokens", "second", "list") == (0, "no tokens\n", "")
    code, out, _ = run(registry, "tokens", "--help")
    assert code == 0 and SERVICE in out and "second" in out


def test_a_service_deployed_alone_needs_no_service_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    code, _, err = run(Registry.of([CLI_DEFINITION]), "outbox", "status", DATABASE_URL=url)
    assert code == 3
    assert one_line(err) == f"ensemble: no store at {url} (the file does not exist)"
    assert not (tmp_path / "missing.db").exists()  # a status never creates a store


def test_unknown_service_missing_service_and_no_service() -> None:
    other = support.definition(group="runtime-tests.other")
    two = Registry.of([CLI_DEFINITION, replace(other, name="second")])
    code, _, err = run(two, "lag", "--service", "nope")
    assert code == 2
    assert one_line(err) == "ensemble: unknown service 'nope' (known: runtime-tests, second)"
    code, _, err = run(two, "lag")
    assert (code, one_line(err)) == (
        2,
        "ensemble: choose a service with --service (runtime-tests, second)",
    )
    code, _, err = run(
        two, "outbox", "status", ENSEMBLE_SERVICE="second", DATABASE_URL="sqlite:///nowhere.db"
    )
    assert (code, one_line(err)) == (
        3,
        "ensemble: no store at sqlite:///nowhere.db (the file does not exist)",
    )
    code, _, err = run(Registry(), "dlq", "list")
    assert (code, one_line(err)) == (2, "ensemble: no Ensemble service is installed here")


def test_bad_database_url_and_missing_settings_are_one_line() -> None:
    registry = Registry.of([CLI_DEFINITION])
    code, _, err = run(registry, "migrations", "status", DATABASE_URL="not a url")
    assert code == 2
    assert one_line(err).startswith("ensemble: bad database URL")
    code, _, err = run(registry, "migrations", "status")  # DATABASE_URL unset
    assert (code, one_line(err)) == (2, "ensemble: bad settings: database_url: Field required")


def test_a_password_in_a_database_url_is_never_printed() -> None:
    url = "postgresql+psycopg://ops:s3cret@127.0.0.1:1/nowhere"
    code, out, err = run(Registry.of([CLI_DEFINITION]), "outbox", "status", DATABASE_URL=url)
    assert code == 3
    assert one_line(err).startswith(
        "ensemble: cannot use the store at postgresql+psycopg://ops:***@"
    )
    assert "s3cret" not in out + err


@pytest.mark.parametrize("command", [["dlq", "list"], ["lag"], ["dlq", "show", "0" * 32]])
def test_an_unreachable_broker_is_one_line(command: list[str], tmp_path: Path) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "DATABASE_URL": "sqlite://"}
    code, _, err = run(Registry.of([CLI_DEFINITION]), *command, **env)
    assert code == 3
    assert one_line(err).startswith("ensemble: cannot reach Kafka at 127.0.0.1:1: ")


def test_replay_and_discard_refuse_to_act_on_everything_unasked() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "DATABASE_URL": "sqlite://"}
    registry = Registry.of([CLI_DEFINITION])
    code, _, err = run(registry, "dlq", "replay", **env)
    assert (code, one_line(err)) == (
        2,
        "ensemble: replay needs a filter, or --all-pending to replay every letter",
    )
    code, _, err = run(registry, "dlq", "discard", "--reason", "test", **env)
    assert code == 2 and "--all-pending" in one_line(err)
    code, _, err = run(registry, "dlq", "list", "--topic", "elsewhere.dlq", **env)
    assert code == 2
    assert one_line(err) == (
        "ensemble: elsewhere.dlq is not a DLQ of runtime-tests (hospital.encounters.v1.dlq)"
    )


def test_a_bad_option_is_a_usage_error() -> None:
    registry = Registry.of([CLI_DEFINITION])
    code, _, err = run(registry, "dlq", "list", "--since", "yesterday")
    assert (code, one_line(err)) == (
        2,
        "ensemble dlq list: Invalid value for '--since': 'yesterday' is not an ISO date-time "
        "(see ensemble dlq list --help)",
    )
    code, _, err = run(registry, "dlq", "show", "not-an-id")
    assert code == 2 and one_line(err).startswith("ensemble dlq show: Invalid value for")
    code, _, err = run(registry, "no-such-command")
    assert (code, one_line(err)) == (
        2,
        "ensemble: No such command 'no-such-command'. (see ensemble --help)",
    )
    code, out, _ = run(registry, "dlq")  # no arguments: the group's help
    assert code == 2 and "Usage: ensemble dlq" in out
