"""Outbox relay: publishes committed outbox rows to Kafka, in order per key.

At-least-once: a crash between Kafka's ack and marking the row published re-sends it, and
consumers drop the duplicate by event_id. One relay per store: on PostgreSQL an advisory lock
makes other replicas stand by; a SQLite file belongs to one process.

Per-key order. Rows are read oldest first and sent pipelined; a key always maps to one
partition, so Kafka keeps their order. A row is marked handled only when every earlier row of
its key in the round was handled too:
- Kafka acknowledged it: published.
- Kafka refused it for what it is (too large, invalid: `errors.is_refused_for_good`): it is
  *parked*, i.e. sent to `<topic>.dlq` as a dead letter (error + original payload), counted in
  `ensemble_outbox_parked_total{topic}` and logged at ERROR (no payload), then marked handled.
  The rows behind it, of the same key too, flow on: the parked event is skipped in its key's
  order, and a replay (`ensemble-dlq replay`) delivers it later, after newer events of the key.
- Any other failure (broker away, timeout, credentials): the key stops at that row for this
  round, the relay reconnects and sends it and the rows behind it again.

Traces (tracing.py): with tracing on, each row is sent in a producer span, child of the span
that staged it (the row's traceparent), whose traceparent goes as the `traceparent` header.
"""

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import Span, SpanKind
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime import metrics
from ensemble_runtime.db import StoreWorker, without_flush_wait
from ensemble_runtime.dead_letters import letter_bytes, parked_letter, without_payload
from ensemble_runtime.errors import describe_error, is_refused_for_good
from ensemble_runtime.kafka import DEAD_LETTER_COMPRESSION, DEAD_LETTER_MAX_REQUEST_BYTES
from ensemble_runtime.kafka_security import PLAINTEXT, KafkaSecurity
from ensemble_runtime.outbox import PendingRow, mark_published, pending
from ensemble_runtime.tracing import (
    TRACEPARENT,
    TRACING_OFF,
    Tracing,
    end_span,
    messaging_attributes,
    parent_from,
    trace_id_of,
    traceparent_of,
)

log = structlog.get_logger(__name__)

RELAY_LOCK_ID = 0x0E5E_0B1E  # arbitrary, constant: one relay per database


def relay_producer(
    bootstrap_servers: str, security: KafkaSecurity = PLAINTEXT, **options: Any
) -> AIOKafkaProducer:
    # Idempotence forces acks=all and keeps per-partition order through retries.
    options = {"enable_idempotence": True, **options}
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
        **security.client_options(),
        **options,
    )


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_seconds: float = 0.25,
        store: StoreWorker | None = None,
        security: KafkaSecurity = PLAINTEXT,
        service: str = "unknown",
        reader: Engine | None = None,
        tracing: Tracing = TRACING_OFF,
    ) -> None:
        self._engine = engine
        self._tracing = tracing
        self._reader = reader or engine
        self._store = store or StoreWorker(engine)
        self._bootstrap = bootstrap_servers
        self._security = security
        self._service = service
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._parking: AIOKafkaProducer | None = None
        self.connected = False
        self.standing_by = False  # another replica holds the relay lock and relays

    @property
    def ready(self) -> bool:
        """Relaying with a live producer, or standing by for the replica that is: a standby
        replica is as ready to serve as the leader (else a two-replica rollout never ends)."""
        return self.connected or self.standing_by

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
            while not await asyncio.to_thread(lock):
                self.standing_by = True
                await asyncio.sleep(5)
            self.standing_by = False
            metrics.OUTBOX_RELAY_LEADER.set(1)
            while True:
                producer = relay_producer(self._bootstrap, self._security)
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
                    parking, self._parking = self._parking, None
                    for client in (producer, parking):
                        if client is not None:
                            with contextlib.suppress(Exception):
                                await client.stop()

    async def _relay_forever(self, producer: AIOKafkaProducer) -> None:
        while True:
            # Cleared before reading: a commit notified while this round runs wakes the next wait.
            self._wake.clear()
            rows = await self._store.run_read(self._pending)
            if rows:
                handled = await self._publish(producer, rows)
                await self._store.run(self._mark, handled)
                if len(handled) < len(rows):
                    raise ConnectionError("some outbox rows were not acknowledged")
                if len(rows) == self._batch_size:
                    continue  # more waiting: do not sleep
            # Published rows are pruned by retention (retention.py), in small batches.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def _publish(self, producer: AIOKafkaProducer, rows: list[PendingRow]) -> list[int]:
        """Send all rows pipelined; return the ids handled (acked or parked), per-key in order."""
        outcomes: list[BaseException | None] = await self._send_all(producer, rows)
        handled: list[int] = []
        stopped_keys: set[str | None] = set()
        for row, error in zip(rows, outcomes, strict=True):
            if row.key in stopped_keys:
                continue  # an earlier row of this key is still owed: keep the order
            if error is None:
                handled.append(row.id)
                metrics.OUTBOX_PUBLISHED.labels(row.topic).inc()
            elif is_refused_for_good(error) and await self._park(row, error):
                handled.append(row.id)
            else:
                log.warning(
                    "outbox publish failed",
                    topic=row.topic,
                    error=type(error).__name__,
                    **_row_ids(row),
                )
                stopped_keys.add(row.key)
        return handled

    async def _send_all(
        self, producer: AIOKafkaProducer, rows: list[PendingRow]
    ) -> list[BaseException | None]:
        """Each row's outcome: None when acknowledged, else the error."""
        sent: list[asyncio.Future[Any] | BaseException] = []
        spans = [self._publish_span(row) for row in rows] if self._tracing.enabled else []
        for index, row in enumerate(rows):
            headers = [
                ("event_type", row.event_type.encode()),
                ("correlation_id", row.correlation_id.encode()),
            ]
            span = spans[index] if spans else None
            traceparent = traceparent_of(span) if span is not None else row.traceparent
            if traceparent is not None:
                headers.append((TRACEPARENT, traceparent.encode()))
            try:
                sent.append(
                    await producer.send(
                        row.topic,
                        value=row.payload.encode(),
                        key=row.key.encode() if row.key is not None else None,
                        headers=headers,
                    )
                )
            except Exception as error:  # refused before sending (too large), or broker away
                sent.append(error)
                if not is_refused_for_good(error):  # the rest would wait as long: stop here
                    sent.extend([error] * (len(rows) - len(sent)))
                    break
        futures = [s for s in sent if not isinstance(s, BaseException)]
        results = iter(await asyncio.gather(*futures, return_exceptions=True))
        outcomes = [s if isinstance(s, BaseException) else _error_of(next(results)) for s in sent]
        if spans:
            for span, outcome in zip(spans, outcomes, strict=True):
                end_span(span, outcome)
        return outcomes

    def _publish_span(self, row: PendingRow) -> Span | None:
        # Never the key (an NHS number): topic, event id and type only.
        attributes = messaging_attributes(
            row.topic,
            "send",
            {"messaging.message.id": str(row.event_id), "ensemble.event_type": row.event_type},
        )
        return self._tracing.start_span(
            f"send {row.topic}",
            kind=SpanKind.PRODUCER,
            attributes=attributes,
            parent=parent_from(row.traceparent),
        )

    async def _park(self, row: PendingRow, error: BaseException) -> bool:
        """Move a refused row to its topic's dead-letter topic; False if that failed too."""
        letter = parked_letter(self._service, row.topic, row.key, row.payload, error, row.id)
        for attempt in (letter, without_payload(letter)):
            try:
                await self._send_letter(attempt)
                break
            except Exception as failure:
                if not is_refused_for_good(failure):
                    log.warning("parking an outbox row failed", error=type(failure).__name__)
                    return False
        else:
            log.error("outbox row refused by Kafka, and so is its dead letter", topic=row.topic)
            return False
        metrics.OUTBOX_PARKED.labels(row.topic).inc()
        log.error(
            "outbox row refused by Kafka, parked on its dead-letter topic",
            topic=row.topic,
            dead_letter_topic=f"{row.topic}.dlq",
            outbox_row=row.id,
            event_id=str(row.event_id),
            event_type=row.event_type,
            **_row_ids(row),
            error=describe_error(error),
            payload_bytes=len(row.payload.encode()),
            payload_kept=bool(attempt.payload),
        )
        return True

    async def _send_letter(self, letter: DeadLetter) -> None:
        if self._parking is None:  # compressed, sized by the broker, not idempotent: kafka.py
            parking = relay_producer(
                self._bootstrap,
                self._security,
                enable_idempotence=False,
                compression_type=DEAD_LETTER_COMPRESSION,
                max_request_size=DEAD_LETTER_MAX_REQUEST_BYTES,
            )
            await parking.start()
            self._parking = parking
        key = letter.source_key.encode() if letter.source_key else None
        await self._parking.send_and_wait(
            f"{letter.source_topic}.dlq",
            value=letter_bytes(letter),
            key=key,
            headers=[("event_type", letter.event_type.encode())],
        )

    def _pending(self) -> list[PendingRow]:
        with Session(self._reader) as session:
            return pending(session, self._batch_size)

    def _mark(self, ids: list[int]) -> None:
        """Mark rows published without waiting for the disk: a mark lost in a power cut only
        sends its rows again, which consumers drop by event_id. This saves a flush per round
        on the store's one writer. (SQLite's next FULL commit flushes it anyway.)"""
        if not ids:
            return
        with (
            self._engine.connect() as connection,
            without_flush_wait(connection),
            Session(connection) as session,
        ):
            mark_published(session, ids)
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


def _row_ids(row: PendingRow) -> dict[str, str]:
    """What ties a row's log line to its request and trace."""
    ids = {"correlation_id": row.correlation_id}
    if trace_id := trace_id_of(row.traceparent):
        ids["trace_id"] = trace_id
    return ids


def _error_of(result: object) -> BaseException | None:
    return result if isinstance(result, BaseException) else None


def _try_advisory_lock(connection: Connection) -> bool:
    acquired = connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": RELAY_LOCK_ID})
    return bool(acquired.scalar())
