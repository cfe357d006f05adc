"""What every `ensemble` command shares: the service it acts on, its options, its output."""

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ensemble_runtime.config import ServiceSettings
from ensemble_runtime.kafka_security import KafkaSecurity
from ensemble_runtime.ops_cli.errors import USAGE, OpsError, kafka_at
from ensemble_runtime.ops_cli.registry import SERVICE_ENV, Definition, Registry

T = TypeVar("T")

ServiceOption = Annotated[
    str | None,
    typer.Option(
        "--service",
        "-s",
        envvar=SERVICE_ENV,
        help="The service to act on; its settings come from its own environment variables. "
        "Not needed when only one service is installed.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@dataclass(frozen=True)
class Target:
    """The service acted on: its definition and its settings, read as the service reads them."""

    definition: Definition
    settings: ServiceSettings

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap_servers

    def security(self) -> KafkaSecurity:
        try:
            return self.settings.kafka_security()
        except ValueError as error:
            raise OpsError(f"Kafka settings of {self.name}: {error}", USAGE) from None

    def on_kafka(self, work: Coroutine[Any, Any, T]) -> T:
        """Run async Kafka work; a broker that does not answer is one line, exit 3."""
        with kafka_at(self.bootstrap):
            return asyncio.run(work)


def registry_of(ctx: typer.Context) -> Registry:
    registry = ctx.find_root().obj
    if not isinstance(registry, Registry):
        raise OpsError("internal: the CLI was started without its registry")
    return registry


def target(ctx: typer.Context, service: str | None) -> Target:
    definition = registry_of(ctx).definition(service)
    settings = definition.settings()  # a ValidationError is explained (names, no values)
    return Target(definition, settings)


stdout = Console(soft_wrap=True)  # text answers (rich tables), not wrapped to a width
stderr = Console(stderr=True)


def emit(shown: Any, text: RenderableType | Callable[[], RenderableType], as_json: bool) -> None:
    """The answer on stdout: JSON for scripts, or text (or a rich table) for people."""
    if as_json:
        sys.stdout.write(json.dumps(shown, indent=2, default=_plain) + "\n")
        return
    stdout.print(text() if callable(text) else text, highlight=False, markup=False)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class Bars:
    """Rich progress bars on stderr (never on stdout, which scripts parse)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    def task(self, description: str) -> Callable[[int, int], None]:
        """A new bar; call what it returns with (done, total) as the work goes."""
        task = self._progress.add_task(description, total=None)

        def show(done: int, total: int) -> None:
            self._progress.update(task, completed=done, total=max(total, done))

        return show


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Bars]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=not enabled,
    )
    with progress:
        yield Bars(progress)
