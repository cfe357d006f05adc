"""SQL store: SQLite (embedded default, one file per service) or PostgreSQL."""

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, Engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

T = TypeVar("T")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no offset and hands datetimes back naive; everything written here is UTC,
    so a naive value read back is UTC. A naive value written is refused: it is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC values only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_db_engine(url: str) -> Engine:
    """An engine that never puts SQL parameters (patient data) in its errors or logs."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def _sqlite_engine(url: str) -> Engine:
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, which the HL7 ACK and the outbox rely on.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred read-then-write can deadlock two writers.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def serialize_on(session: Session, key: str) -> None:
    """Hold a lock on `key` until the transaction ends, so work on one key runs one at a time.

    PostgreSQL: a transaction-level advisory lock. SQLite needs none: BEGIN IMMEDIATE already
    lets one writer in at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
        )


def is_transient_conflict(error: OperationalError) -> bool:
    """A deadlock or serialization failure (SQLSTATE class 40): the same work may simply rerun."""
    return str(getattr(error.orig, "sqlstate", "") or "").startswith("40")


def create_schema(engine: Engine) -> None:
    """Create missing tables (idempotent)."""
    SQLModel.metadata.create_all(engine)


class StoreWorker:
    """Runs blocking store work off the event loop.

    SQLite has one writer at a time. Queueing a process's store work on one thread keeps
    its own threads from colliding in SQLite's busy handler, which sleeps in steps of up to
    tens of milliseconds. PostgreSQL work runs on the default thread pool, in parallel.
    """

    def __init__(self, engine: Engine) -> None:
        single = engine.dialect.name == "sqlite"
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="store") if single else None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        # Carry the caller's context (bound log fields such as correlation_id) to the thread.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(context.run, work, *args)
        )
