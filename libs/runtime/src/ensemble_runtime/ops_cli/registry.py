"""Which services this installation holds, found through entry points (runtime imports none).

Each service's pyproject declares, under its name:
- `[project.entry-points."ensemble.services"]`: its ServiceDefinition (`pkg.service:DEFINITION`),
  imported only when a command acts on that service (`--service NAME`);
- `[project.entry-points."ensemble.cli"]` (optional): a typer app of its own commands
  (e.g. scoring's rescoring), mounted as `ensemble NAME ...`;
- `[project.entry-points."ensemble.tokens"]` (optional): a typer app managing the tokens
  the service keeps, mounted as `ensemble tokens ...` (as `ensemble tokens NAME ...` when
  several services keep tokens).
The modules named should import little, and the service's heavy modules inside the commands,
so `ensemble --help` stays quick and imports no service.
A service deployed alone (`uv sync --package X`) has only its own entry points installed, so
`ensemble` acts on it without `--service`. Tests build a Registry directly.
"""

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer

from ensemble_runtime.definition import ServiceDefinition
from ensemble_runtime.ops_cli.errors import OpsError

SERVICES_GROUP = "ensemble.services"
COMMANDS_GROUP = "ensemble.cli"
TOKENS_GROUP = "ensemble.tokens"
SERVICE_ENV = "ENSEMBLE_SERVICE"

Definition = ServiceDefinition[Any, Any]


@dataclass
class Registry:
    """Service name -> how to get its definition, and the services' own typer apps."""

    definitions: dict[str, Callable[[], Definition]] = field(default_factory=dict)
    commands: dict[str, typer.Typer] = field(default_factory=dict)
    tokens: dict[str, typer.Typer] = field(default_factory=dict)  # service -> its tokens app
    broken: dict[str, str] = field(default_factory=dict)  # entry point -> why it did not load

    @classmethod
    def of(
        cls,
        definitions: Iterable[Definition] = (),
        commands: Mapping[str, typer.Typer] | None = None,
        tokens: Mapping[str, typer.Typer] | None = None,
    ) -> "Registry":
        """A registry of definitions at hand (tests, or a program embedding the CLI)."""
        loaders = {definition.name: _given(definition) for definition in definitions}
        return cls(loaders, dict(commands or {}), dict(tokens or {}))

    @classmethod
    def from_entry_points(
        cls,
        services: Iterable[EntryPoint] | None = None,
        commands: Iterable[EntryPoint] | None = None,
        tokens: Iterable[EntryPoint] | None = None,
    ) -> "Registry":
        """The installed services (or the entry points given, for tests)."""
        services = entry_points(group=SERVICES_GROUP) if services is None else services
        commands = entry_points(group=COMMANDS_GROUP) if commands is None else commands
        tokens = entry_points(group=TOKENS_GROUP) if tokens is None else tokens
        registry = cls()
        for point in services:
            registry.definitions[point.name] = _definition_loader(point)
        registry._load_apps(commands, registry.commands, "")
        registry._load_apps(tokens, registry.tokens, "tokens ")
        return registry

    def _load_apps(
        self, points: Iterable[EntryPoint], into: dict[str, typer.Typer], prefix: str
    ) -> None:
        for point in points:
            try:
                app = point.load()
            except Exception as error:  # a broken plugin must not take the whole CLI down
                self.broken[prefix + point.name] = f"{type(error).__name__}: {error}"
                continue
            if isinstance(app, typer.Typer):
                into[point.name] = app
            else:
                self.broken[prefix + point.name] = f"{point.value} is not a typer.Typer"

    def names(self) -> list[str]:
        return sorted(self.definitions)

    def chosen(self, name: str | None) -> str:
        """The service to act on: --service (or ENSEMBLE_SERVICE), else the only one here."""
        name = name or os.environ.get(SERVICE_ENV) or None
        known = self.names()
        if name is None:
            if len(known) == 1:
                return known[0]
            if not known:
                raise OpsError("no Ensemble service is installed here", code=2)
            raise OpsError(f"choose a service with --service ({', '.join(known)})", code=2)
        if name not in self.definitions:
            listed = ", ".join(known) or "none is installed here"
            raise OpsError(f"unknown service {name!r} (known: {listed})", code=2)
        return name

    def definition(self, name: str | None) -> Definition:
        chosen = self.chosen(name)
        try:
            return self.definitions[chosen]()
        except OpsError:
            raise
        except Exception as error:
            raise OpsError(f"service {chosen!r} cannot be loaded: {error}") from None


def _given(definition: Definition) -> Callable[[], Definition]:
    return lambda: definition


def _definition_loader(point: EntryPoint) -> Callable[[], Definition]:
    def load() -> Definition:
        definition = point.load()
        if not isinstance(definition, ServiceDefinition):
            raise OpsError(f"{point.value} is not a ServiceDefinition")
        return definition

    return load
