"""scoring's own `ensemble` commands: `ensemble scoring model show|check|evaluate|activate`.

Found by `ensemble` through the `ensemble.cli` entry point. The work is admin_cli.py's (the
same store, use cases and reports as `ensemble-scoring-admin`), on the settings the service
reads (SCORING_DATABASE_URL, ...), with rich progress bars on stderr for the long passes
(evaluate, and activate's rescoring of the population). This module imports little: the
service is imported when a command runs, not for `--help`.
"""

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ensemble_runtime.ops_cli import (
    JsonOption,
    OpsError,
    QuietOption,
    emit,
    progress_bar,
    store_at,
)

if TYPE_CHECKING:
    from scoring.entrypoints.admin_cli import _Store

app = typer.Typer(help="scoring's own commands: risk model versions and rescoring.")
model = typer.Typer(help="Risk model versions: check, evaluate, activate (rescores).")
app.add_typer(model, name="model", no_args_is_help=True)

ModelFile = Annotated[Path, typer.Argument(help="A model file (see docs: the model card).")]
Page = Annotated[int, typer.Option(min=1, max=10_000, help="Patients per transaction.")]


def _on_store(work: "Callable[[_Store], tuple[dict[str, Any], str]]") -> tuple[dict[str, Any], str]:
    from ensemble_runtime.clock import utc_now
    from scoring.config import Settings
    from scoring.entrypoints.admin_cli import Refused, _Store

    settings = Settings()
    with store_at(settings.database_url):  # an unreachable store: one line, exit 3
        store = _Store(settings, utc_now)
        try:
            return work(store)
        except Refused as refused:
            raise OpsError(str(refused)) from None
        finally:
            store.close()


def _bar(show: Callable[[int, int], None]) -> Any:
    """admin_cli's progress interface (show/done), drawn by a rich bar."""
    from scoring.entrypoints.admin_output import Progress

    class Bar(Progress):
        def __init__(self) -> None:
            super().__init__(enabled=False)

        def show(self, done: int, total: int) -> None:
            show(done, total)

        def done(self) -> None:
            pass

    return Bar()


@model.command()
def check(file: ModelFile, as_json: JsonOption = False) -> None:
    """Read and check a model file (nothing stored)."""
    from scoring.entrypoints.admin_cli import Refused, _check

    try:
        shown, text = _check(argparse.Namespace(file=file))
    except Refused as refused:
        raise OpsError(str(refused)) from None
    emit(shown, text, as_json)


@model.command()
def show(as_json: JsonOption = False) -> None:
    """The active model, the stored versions and the activations."""
    from scoring.entrypoints.admin_cli import _show

    shown, text = _on_store(_show)
    emit(shown, text, as_json)


@model.command()
def evaluate(
    file: ModelFile,
    examples: Annotated[int, typer.Option(min=0, max=50, help="Examples per practice.")] = 3,
    page: Page = 1000,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """What a candidate model would change: per practice, patients changing band."""
    from scoring.entrypoints.admin_cli import _evaluate

    args = argparse.Namespace(file=file, examples=examples, page=page)
    with progress_bar(enabled=not quiet) as bars:
        bar = _bar(bars.task("evaluating"))
        shown, text = _on_store(lambda store: _evaluate(store, args, bar))
    emit(shown, text, as_json)


@model.command()
def activate(
    file: ModelFile,
    by: Annotated[str, typer.Option(help="Who activates it (kept with it).")] = "staff",
    page: Page = 500,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Make a model active and rescore everyone (band changes published); rerun to resume."""
    from scoring.entrypoints.admin_cli import _activate

    args = argparse.Namespace(file=file, by=by, page=page)
    with progress_bar(enabled=not quiet) as bars:
        bar = _bar(bars.task("rescoring"))
        shown, text = _on_store(lambda store: _activate(store, args, bar))
    emit(shown, text, as_json)
