"""Outbox relay: publishes committed outbox rows to Kafka, in order per key.

At-least-once: a crash between Kafka's ack and marking the row published re-sends it, and
consumers drop the duplicate by event_id. One relay per store: on PostgreSQL an advisory lock
makes other replicas stand by; a SQLite file belongs to one process.
"""

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from ensemble_runtime import metrics
from ensemble_runtime.db import StoreWorker
from ensemble_runtime.outbox import OutboxMessage, mark_published, pending, prune_published

log = structlog.get_logger(__name__)

RELAY_LOCK_ID = 0x0E5E_0B1E  # arbitrary, constant: one relay per database


def idempotent_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    # Idempotence forces acks=all and keeps per-partition order through retries.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
    )


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_seconds: float = 0.25,
        retention: timedelta = timedelta(days=7),
        store: StoreWorker | None = None,
    ) -> None:
        self._engine = engine
        self._store = store or StoreWorker(engine)
        self._bootstrap = bootstrap_servers
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retention = retention
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = False

    def notify(self) -> None:
        """Thread-safe: something was committed to the outbox."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        with self._leader_lock() as lock:
            # Another replica holds the lock and relays: stand by and poll the lock.
            while not await asyncio.to_thread(lock):  # noqa: ASYNC110 - a DB lock, not an event
                await asyncio.sleep(5)
            while True:
                producer = idempotent_producer(self._bootstrap)
                try:
                    await producer.start()
                    self.connected = True
                    await self._relay_forever(producer)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # broker away: back off and reconnect
                    log.warning("outbox relay interrupted", error=type(error).__name__)
                    await asyncio.sleep(1)
                finally:
                    self.connected = False
                    with contextlib.suppress(Exception):
                        await producer.stop()

    async def _relay_forever(self, producer: AIOKafkaProducer) -> None:
        rounds = 0
        while True:
            rows = await self._store.run(self._pending)
            if rows:
                published = await self._publish(producer, rows)
                await self._store.run(self._mark, published)
                if len(published) < len(rows):
                    raise ConnectionError("some outbox rows were not acknowledged")
                if len(rows) == self._batch_size:
                    continue  # more waiting: do not sleep
            rounds += 1
            if rounds % 2000 == 0:
                await self._store.run(self._prune)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def _publish(self, producer: AIOKafkaProducer, rows: list[OutboxMessage]) -> list[int]:
        """Send all rows pipelined; return ids of the in-order prefix per key that Kafka acked."""
        futures = []
        for row in rows:
            futures.append(
                await producer.send(
                    row.topic,
                    value=row.payload.encode(),
                    key=row.key.encode() if row.key is not None else None,
                    headers=[
                        ("event_type", row.event_type.encode()),
                        ("correlation_id", row.correlation_id.encode()),
                    ],
                )
            )
        published: list[int] = []
        failed_keys: set[str | None] = set()
        for row, future in zip(rows, futures, strict=True):
            try:
                await future
            except Exception as error:
                log.warning("outbox publish failed", topic=row.topic, error=type(error).__name__)
                failed_keys.add(row.key)
                continue
            if row.key not in failed_keys and row.id is not None:
                published.append(row.id)
                metrics.OUTBOX_PUBLISHED.labels(row.topic).inc()
        return published

    def _pending(self) -> list[OutboxMessage]:
        with Session(self._engine) as session:
            return pending(session, self._batch_size)

    def _mark(self, ids: list[int]) -> None:
        if ids:
            with Session(self._engine) as session:
                mark_published(session, ids)
                session.commit()

    def _prune(self) -> None:
        with Session(self._engine) as session:
            prune_published(session, self._retention)
            session.commit()

    @contextlib.contextmanager
    def _leader_lock(self) -> Iterator[Callable[[], bool]]:
        if self._engine.dialect.name != "postgresql":
            yield lambda: True
            return
        connection = self._engine.connect()
        try:
            yield lambda: _try_advisory_lock(connection)
        finally:
            connection.close()


def _try_advisory_lock(connection: Connection) -> bool:
    acquired = connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": RELAY_LOCK_ID})
    return bool(acquired.scalar())
