"""SQL store: SQLite (embedded default, one file per service) or PostgreSQL."""

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, DateTime, Dialect, Engine, Executable, event, text
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


def create_db_engine(url: str, password: Callable[[], str] | None = None) -> Engine:
    """An engine that never puts SQL parameters (patient data) in its errors or logs.

    `password`, when given, is asked for at each new connection (not the URL's): a rotated
    password file reaches new connections while pooled ones keep working.
    """
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    engine = create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )
    if password is not None:

        @event.listens_for(engine, "do_connect")
        def _current_password(
            _dialect: Any, _record: Any, _args: Any, params: dict[str, Any]
        ) -> None:
            params["password"] = password()

    return engine


_DURABLE = "PRAGMA synchronous=FULL"


@contextlib.contextmanager
def without_flush_wait(connection: Connection) -> Iterator[None]:
    """Transactions begun on `connection` inside this block commit without waiting for the
    disk: for work whose loss in a power cut is harmless (e.g. marking outbox rows sent).
    SQLite takes the setting only outside a transaction, so on the driver's connection;
    PostgreSQL's setting lasts for the session, so it is set back too."""
    driver = connection.connection.dbapi_connection
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and driver is not None:
        driver.execute("PRAGMA synchronous=NORMAL")
    elif not sqlite:
        connection.exec_driver_sql("SET synchronous_commit = off")
        connection.commit()
    try:
        yield
    finally:
        if sqlite and driver is not None:
            driver.execute(_DURABLE)
        elif not sqlite:
            connection.exec_driver_sql("SET synchronous_commit = on")
            connection.commit()


def reader_engine(engine: Engine) -> Engine:
    """An engine for reads only. SQLite in WAL mode lets readers run beside the one writer,
    so a file database gets read-only connections that never take the write lock; an
    in-memory one (a different database per connection) and PostgreSQL share `engine`."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return engine
    return _sqlite_engine(engine.url.render_as_string(hide_password=False), read_only=True)


def _sqlite_engine(url: str, read_only: bool = False) -> Engine:
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        else:
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives power loss, which the HL7 ACK and the outbox rely on.
            cursor.execute(_DURABLE)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    def _begin(dbapi_connection: Any) -> None:
        # Writers take the write lock up front: a deferred read-then-write can deadlock two
        # writers. Readers begin deferred: a WAL snapshot, no lock.
        dbapi_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

    # The dialect's begin, not a "begin" event: SQLAlchemy wraps its errors (a lock timeout,
    # a lost file) as for any statement, and it skips the statement machinery, which through
    # `exec_driver_sql` cost more per transaction than a prepared read.
    engine.dialect.do_begin = _begin  # type: ignore[method-assign]

    return engine


class CoreSql:
    """SQLAlchemy Core statements in a session's transaction, for hot paths (ADR 7).

    Asking the session for its connection costs more than a simple INSERT; this keeps the
    connection of the session's current transaction and asks again only when that changed.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._transaction: Any = None
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        """The connection of the session's current transaction (begun if none is)."""
        transaction = self._session.get_transaction()
        if self._connection is None or transaction is not self._transaction:
            self._connection = self._session.connection()
            self._transaction = self._session.get_transaction()
        return self._connection

    def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self.connection().execute(statement, parameters)


def core_sql(session: Session) -> CoreSql:
    """The session's CoreSql (one per session)."""
    found = session.info.get("core_sql")
    if found is None:
        found = session.info["core_sql"] = CoreSql(session)
    return cast(CoreSql, found)


_ADVISORY_XACT_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


def serialize_on(session: Session, key: str) -> None:
    """Hold a lock on `key` until the transaction ends, so work on one key runs one at a time.

    PostgreSQL: a transaction-level advisory lock. SQLite needs none: BEGIN IMMEDIATE already
    lets one writer in at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        core_sql(session).execute(_ADVISORY_XACT_LOCK, {"key": key})


def is_transient_conflict(error: OperationalError) -> bool:
    """A deadlock or serialization failure (SQLSTATE class 40): the same work may simply rerun."""
    return str(getattr(error.orig, "sqlstate", "") or "").startswith("40")


def create_schema(engine: Engine) -> None:
    """Create missing tables (idempotent)."""
    SQLModel.metadata.create_all(engine)


class StoreWorker:
    """Runs blocking store work off the event loop.

    SQLite has one writer at a time. Queueing a process's writes on one thread keeps its own
    threads from colliding in SQLite's busy handler, which sleeps in steps of up to tens of
    milliseconds. Reads (`run_read`, on a `reader_engine`) have threads of their own, so a
    practice's poll never waits behind a commit. PostgreSQL work runs on the default thread
    pool, in parallel.
    """

    def __init__(self, engine: Engine) -> None:
        single = engine.dialect.name == "sqlite"
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="store") if single else None
        self._readers = ThreadPoolExecutor(2, thread_name_prefix="store-read") if single else None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        return await self._on(self._executor, work, *args)

    async def run_read(self, work: Callable[..., T], *args: Any) -> T:
        """Work that only reads, through a `reader_engine` session."""
        return await self._on(self._readers, work, *args)

    @staticmethod
    async def _on(executor: ThreadPoolExecutor | None, work: Callable[..., T], *args: Any) -> T:
        # Carry the caller's context (bound log fields such as correlation_id) to the thread.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            executor, functools.partial(context.run, work, *args)
        )
