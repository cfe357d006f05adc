"""The `ensemble` app: the runtime's commands for any service, and the services' own.

ensemble services                          # installed services and their commands
ensemble dlq list|show|replay|discard      # [--service NAME] [--json] everywhere
ensemble outbox status                     # backlog and oldest age, per topic
ensemble lag [--group G]                   # consumer lag per group and partition
ensemble migrations status|upgrade
ensemble tokens ...                        # the tokens a service keeps (hospital-feed's)
ensemble <service> ...                     # a service's own commands, e.g. scoring model
"""

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer

# typer 0.29 vendors click: its usage errors are these classes (typer is pinned exactly).
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from ensemble_runtime.logging import configure_logging
from ensemble_runtime.ops_cli import dlq, lag, store
from ensemble_runtime.ops_cli.common import JsonOption, emit, registry_of
from ensemble_runtime.ops_cli.errors import explain
from ensemble_runtime.ops_cli.registry import Registry

PROG = "ensemble"


class OpsGroup(TyperGroup):
    """Any error below the root, said in one line on stderr with its exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Usage errors in one line too, naming the command (not click's box of lines)."""
        kwargs["standalone_mode"] = False  # exceptions come here, not to click's printing
        try:
            code = super().main(*args, **kwargs)
        except NoArgsIsHelpError as no_args:
            no_args.show()  # the help, as asked for by no arguments
            sys.exit(no_args.exit_code)
        except UsageError as error:
            where = error.ctx.command_path if error.ctx is not None else PROG
            typer.echo(f"{where}: {error.format_message()} (see {where} --help)", err=True)
            sys.exit(error.exit_code)
        except ClickException as error:
            typer.echo(f"{PROG}: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except typer.Abort:
            typer.echo(f"{PROG}: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own: usage errors (exit 2), --help, explicit exits
        except Exception as error:
            failure = explain(error)
            typer.echo(f"{PROG}: {failure}", err=True)
            raise typer.Exit(failure.code) from None


def build_app(registry: Registry) -> typer.Typer:
    app = typer.Typer(
        name=PROG,
        cls=OpsGroup,
        help="One ops CLI for every Ensemble service: dead letters, outbox, consumer lag, "
        "migrations, and each installed service's own commands (tokens, rescoring). "
        "Settings come from the service's environment; exit codes: 1 failed, 2 bad usage or "
        "input, 3 Kafka or the store did not answer.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,  # never a traceback: OpsGroup says it in one line
        add_completion=False,
    )

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = registry
        # aiokafka logs each failed connection attempt; the error is said once, by us.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        logging.getLogger("alembic").setLevel(logging.WARNING)

    @app.command("services")
    def services(ctx: typer.Context, as_json: JsonOption = False) -> None:
        """The services installed here, and which have commands of their own."""
        known = registry_of(ctx)
        shown = {
            "services": [
                {"name": name, "commands": name in known.commands, "tokens": name in known.tokens}
                for name in known.names()
            ],
            "broken": known.broken,
        }
        lines = [_service_line(known, name) for name in known.names()] or [
            "no Ensemble service is installed here"
        ]
        lines += [
            f"{name}: its commands did not load ({why})" for name, why in known.broken.items()
        ]
        emit(shown, "\n".join(lines), as_json)

    app.add_typer(dlq.app, name="dlq")
    app.add_typer(store.outbox_app, name="outbox")
    app.command("lag")(lag.lag)
    app.add_typer(store.migrations_app, name="migrations")
    _mount_tokens(app, registry)
    for name, commands in sorted(registry.commands.items()):
        app.add_typer(commands, name=name)
    return app


def _service_line(registry: Registry, name: str) -> str:
    more = [f"ensemble {name} --help"] if name in registry.commands else []
    more += ["ensemble tokens --help"] if name in registry.tokens else []
    return name + (f" ({', '.join(more)})" if more else "")


def _mount_tokens(app: typer.Typer, registry: Registry) -> None:
    """`ensemble tokens ...`: the one service keeping tokens directly, else one per service."""
    if len(registry.tokens) == 1:
        ((name, tokens),) = registry.tokens.items()
        app.add_typer(tokens, name="tokens", help=f"{name}: {_help_of(tokens)}")
    elif registry.tokens:
        several = typer.Typer(help="Tokens, per service that keeps them.", no_args_is_help=True)
        for name, tokens in sorted(registry.tokens.items()):
            several.add_typer(tokens, name=name)
        app.add_typer(several, name="tokens")


def _help_of(app: typer.Typer) -> str:
    text = app.info.help
    return text if isinstance(text, str) else "users and their bearer tokens."


def main(argv: Sequence[str] | None = None) -> None:
    """The `ensemble` program: exits with the command's code (see errors.py).

    Log lines (the services' own, e.g. "risk model activated") go to stderr, from WARNING
    unless ENSEMBLE_LOG_LEVEL says otherwise: stdout is the answer, which scripts parse.
    """
    configure_logging(PROG, os.environ.get("ENSEMBLE_LOG_LEVEL", "WARNING"), json=False)
    build_app(Registry.from_entry_points())(args=argv, prog_name=PROG)
