"""Every service declares itself to `ensemble` (the ops CLI) through entry points that load:
its ServiceDefinition under its own name, and its typer commands where it has some. Read
from each pyproject.toml, so the check holds before the workspace is re-synced. And the CLI
itself imports no service: `ensemble --help` loads only the commands' light modules."""

import json
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import typer

from ensemble_devkit import REPO_ROOT
from ensemble_runtime.definition import ServiceDefinition
from ensemble_runtime.ops_cli import Registry
from ensemble_runtime.ops_cli.registry import COMMANDS_GROUP, SERVICES_GROUP, TOKENS_GROUP

PYPROJECTS = sorted(REPO_ROOT.glob("services/*/pyproject.toml"))


def declared(group: str) -> list[EntryPoint]:
    points = []
    for path in PYPROJECTS:
        groups = tomllib.loads(path.read_text())["project"].get("entry-points", {})
        points += [EntryPoint(n, v, group) for n, v in groups.get(group, {}).items()]
    return points


@pytest.mark.parametrize("pyproject", PYPROJECTS, ids=lambda path: path.parent.name)
def test_each_service_names_its_definition(pyproject: Path) -> None:
    service = pyproject.parent.name
    groups = tomllib.loads(pyproject.read_text())["project"]["entry-points"]
    (point,) = [EntryPoint(n, v, SERVICES_GROUP) for n, v in groups[SERVICES_GROUP].items()]
    definition = point.load()
    assert isinstance(definition, ServiceDefinition)
    assert point.name == definition.name == service


def test_the_services_commands_load_as_typer_apps() -> None:
    registry = Registry.from_entry_points(
        declared(SERVICES_GROUP), declared(COMMANDS_GROUP), declared(TOKENS_GROUP)
    )
    assert registry.broken == {}
    assert sorted(registry.commands) == ["scoring"]
    assert sorted(registry.tokens) == ["hospital-feed"]
    apps = [*registry.commands.values(), *registry.tokens.values()]
    assert all(isinstance(app, typer.Typer) for app in apps)
    assert registry.names() == ["hospital-feed", "referral", "scheduling", "scoring"]


SERVICE_PACKAGES = ("hospital_feed", "referral", "scheduling", "scoring")
HELP_IMPORTS = """
import json, sys
from ensemble_runtime.ops_cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_the_cli_s_help_imports_no_service() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HELP_IMPORTS], capture_output=True, text=True, check=True
    )
    assert "Usage: ensemble" in done.stdout
    loaded = json.loads(done.stderr.strip().splitlines()[-1])
    of_services = {name for name in loaded if name.split(".")[0] in SERVICE_PACKAGES}
    # Only the packages holding the commands' light modules: no definition, store or domain.
    light = {
        f"{package}{module}" for package in SERVICE_PACKAGES for module in ("", ".entrypoints")
    }
    assert of_services - light == {
        "hospital_feed.entrypoints.ops_commands",
        "scoring.entrypoints.ops_commands",
    }
