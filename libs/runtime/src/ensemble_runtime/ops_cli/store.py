"""`ensemble outbox status` and `ensemble migrations status|upgrade`: a service's store.

The store is the service's own (`<PREFIX>_DATABASE_URL`, as the service reads it). Status
commands only read, on a store that exists (a missing SQLite file is said, not created);
`upgrade` migrates it to the service's newest revision under the same advisory lock the
service takes at start, so it is safe beside running replicas (e.g. as a Kubernetes Job).
"""

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlmodel import Session

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import (
    StoreNotUnderMigrations,
    UnknownRevision,
    migrate,
    migration_status,
)
from ensemble_runtime.ops_cli.common import JsonOption, ServiceOption, Target, emit, target
from ensemble_runtime.ops_cli.errors import UNREACHABLE, OpsError, shown_url, store_at
from ensemble_runtime.ops_metrics import Backlog, outbox_backlog_by_topic
from ensemble_runtime.outbox import OUTBOX

outbox_app = typer.Typer(help="The transactional outbox: what is not yet on Kafka.")
migrations_app = typer.Typer(help="Schema migrations of the service's store.", no_args_is_help=True)


@contextlib.contextmanager
def opened(service: Target, *, must_exist: bool = True) -> Iterator[Engine]:
    """The service's store engine; its errors said in one line, with the URL masked."""
    url = service.settings.database_url
    with store_at(url):
        parsed = make_url(url)
        file = parsed.database if parsed.get_backend_name() == "sqlite" else None
        if must_exist and file and file != ":memory:" and not Path(file).exists():
            raise OpsError(f"no store at {shown_url(url)} (the file does not exist)", UNREACHABLE)
        engine = create_db_engine(url, password=service.settings.database_password_source())
        try:
            yield engine
        finally:
            engine.dispose()


def _age(oldest: datetime | None, now: datetime) -> float | None:
    return None if oldest is None else max((now - oldest).total_seconds(), 0.0)


def _backlog(topic: str | None, backlog: Backlog, now: datetime) -> dict[str, Any]:
    shown: dict[str, Any] = {} if topic is None else {"topic": topic}
    return shown | {
        "backlog": backlog.rows,
        "oldest_unpublished_at": backlog.oldest,
        "oldest_unpublished_age_seconds": _age(backlog.oldest, now),
    }


@outbox_app.command("status")
def outbox_status(
    ctx: typer.Context, service: ServiceOption = None, as_json: JsonOption = False
) -> None:
    """Unpublished rows (the backlog) and the oldest one's age, in all and per topic."""
    chosen = target(ctx, service)
    with opened(chosen) as engine:
        if not inspect(engine).has_table(OUTBOX.name):
            raise OpsError(
                f"the store of {chosen.name} has no outbox: run `ensemble migrations upgrade`"
            )
        with Session(engine) as session:
            topics = outbox_backlog_by_topic(session)
    now = datetime.now(UTC)
    oldest = min((b.oldest for b in topics.values() if b.oldest is not None), default=None)
    total = Backlog(sum(b.rows for b in topics.values()), oldest)
    shown = {"service": chosen.name} | _backlog(None, total, now)
    shown["topics"] = [_backlog(topic, backlog, now) for topic, backlog in topics.items()]

    def table() -> Table:
        grid = Table(title=f"{chosen.name}: {total.rows} unpublished outbox row(s)")
        for column in ("topic", "backlog", "oldest unpublished", "age (s)"):
            grid.add_column(column)
        for row in shown["topics"]:
            age = row["oldest_unpublished_age_seconds"]
            grid.add_row(
                row["topic"], str(row["backlog"]), str(row["oldest_unpublished_at"]), f"{age:.1f}"
            )
        return grid

    emit(shown, table, as_json)


def _status_shown(chosen: Target, engine: Engine) -> dict[str, Any]:
    try:
        status = migration_status(engine, chosen.definition.migrations)
    except UnknownRevision as error:
        raise OpsError(f"{chosen.name}: {error}") from None
    return {
        "service": chosen.name,
        "current": status.current,
        "head": status.head,
        "pending": status.pending,
        "up_to_date": not status.pending and not status.unversioned,
        "unversioned": status.unversioned,
    }


def _status_text(shown: dict[str, Any]) -> str:
    if shown["unversioned"]:
        return (
            f"{shown['service']}: tables without a migration history (made before migrations); "
            "see `ensemble-migrations <package> stamp`"
        )
    pending = ", ".join(shown["pending"]) or "none"
    return (
        f"{shown['service']}: at {shown['current'] or 'nothing (empty store)'}, "
        f"head {shown['head']}, pending: {pending}"
    )


@migrations_app.command("status")
def migrations_status(
    ctx: typer.Context,
    service: ServiceOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 unless the store is at the head.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The store's revision against the installed service's newest (head); changes nothing."""
    chosen = target(ctx, service)
    with opened(chosen) as engine:
        shown = _status_shown(chosen, engine)
    emit(shown, _status_text(shown), as_json)
    if check and not shown["up_to_date"]:
        raise typer.Exit(1)


@migrations_app.command("upgrade")
def migrations_upgrade(
    ctx: typer.Context, service: ServiceOption = None, as_json: JsonOption = False
) -> None:
    """Upgrade the store to head (what the service does at start; one replica at a time)."""
    chosen = target(ctx, service)
    with opened(chosen, must_exist=False) as engine:
        before = _status_shown(chosen, engine)
        try:
            migrate(engine, chosen.definition.migrations)
        except StoreNotUnderMigrations as error:
            raise OpsError(str(error)) from None
        shown = _status_shown(chosen, engine) | {"applied": before["pending"]}
    applied = ", ".join(before["pending"]) or "nothing to apply"
    emit(shown, f"{chosen.name}: upgraded to {shown['current']} ({applied})", as_json)
