"""Idempotent, at-least-once consumers on FastStream with manual acknowledgement.

Messages come in batches (what one poll returns across the group's partitions). For a batch:
validate each → one DB transaction applying the events in order (inbox check + handler +
inbox row each) → commit → Kafka offset commit. If a handler fails, that transaction is
rolled back and the batch is applied again one event at a time, so one bad event neither
holds back nor takes down the rest. Poison messages go to `<topic>.dlq` before their offset
is committed.

Retries. A transient store error (outage, deadlock, busy SQLite: `errors.is_transient_store_error`)
is waited out without limit, since blocking keeps order, with a capped backoff; it counts in
`ensemble_consumer_store_retries_total` and `ensemble_consumer_store_retrying` (consecutive
failures now: alert when it stays above 0). Any other error, store errors included (a broken
constraint, a value the column refuses), is retried `max_attempts` times, then the event is
dead-lettered. Error texts in logs and letters never carry SQL parameters or values.

Traces (tracing.py): with tracing on, each event is applied in a consumer span of its own,
child of its record's `traceparent` header, so what its handler stages in the outbox carries
the trace on; our spans, not FastStream's middleware, which would put the key (an NHS number)
in an attribute. Log lines about an event carry its correlation id and trace id.
"""

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from itertools import chain
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from ensemble_contracts import Envelope
from ensemble_runtime import metrics
from ensemble_runtime.db import StoreWorker
from ensemble_runtime.dead_letters import dead_letter_for, publish_dead_letter
from ensemble_runtime.definition import Subscription
from ensemble_runtime.errors import (
    describe_error,
    describe_validation_error,
    is_transient_store_error,
)
from ensemble_runtime.tracing import (
    TRACING_OFF,
    Tracing,
    header_traceparent,
    messaging_attributes,
    parent_from,
    trace_id_of,
)
from ensemble_runtime.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

U = TypeVar("U", bound=UnitOfWork[Any])
Outcome = Literal["processed", "duplicate", "ignored"]


class LongPollBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber without its sleep after an empty poll.

    FastStream polls for `batch_timeout_ms`, then sleeps as long again when nothing came: at
    10 ms an idle consumer woke 50 times a second, and an event that arrived during the sleep
    waited for it. aiokafka's `getmany` already returns as soon as records arrive, so one long
    poll and no sleep is both cheaper when idle and quicker when an event comes.
    """

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        polled = await consumer.getmany(
            timeout_ms=self.batch_timeout_ms, max_records=self.max_records
        )
        return tuple(chain.from_iterable(polled.values()))


def long_poll(subscriber: Any) -> None:
    """Make a FastStream batch subscriber poll with `LongPollBatchSubscriber` (same slots)."""
    if type(subscriber) is not BatchSubscriber:
        raise TypeError(f"not FastStream's batch subscriber: {type(subscriber).__name__}")
    subscriber.__class__ = LongPollBatchSubscriber


class RejectedEvent(Exception):
    """A handler's verdict that an event can never be processed: dead-letter it at once."""


__all__ = ["EventConsumers", "Outcome", "RejectedEvent", "describe_validation_error"]
_NO_SPAN: AbstractContextManager[None] = nullcontext()
STORE_ALARM_ATTEMPTS = 12  # consecutive transient store failures before logging at ERROR


class EventConsumers(Generic[U]):
    def __init__(
        self,
        broker: KafkaBroker,
        unit_of_work: Callable[[], U],
        producer: str,
        store: StoreWorker,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        batch_size: int = 200,
        poll_timeout_ms: int = 1000,
        retry_max_seconds: float = 5.0,
        tracing: Tracing = TRACING_OFF,
    ) -> None:
        self._broker = broker
        self._tracing = tracing
        self._unit_of_work = unit_of_work
        self._store = store
        self._producer = producer
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self._retry_max = retry_max_seconds

    def register(self, subscription: Subscription[Any, U]) -> None:
        async def on_batch(message: KafkaMessage) -> None:
            await self.process_batch(subscription, message)

        on_batch.__name__ = f"on_{subscription.group}_{subscription.topic.name}".replace(".", "_")
        subscriber = self._broker.subscriber(
            subscription.topic.name,
            group_id=subscription.group,
            ack_policy=AckPolicy.MANUAL,
            batch=True,
            max_records=self._batch_size,
            batch_timeout_ms=self._poll_timeout_ms,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            decoder=_not_decoded,
            description=f"{subscription.group} consumes {subscription.topic.name}",
        )
        subscriber(on_batch)
        long_poll(subscriber)

    async def process_batch(
        self, subscription: Subscription[Any, U], message: KafkaMessage
    ) -> None:
        """Apply a polled batch, then commit the offsets of everything in it."""
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        labels = (subscription.topic.name, subscription.group)
        started = time.perf_counter()
        valid: list[tuple[Any, Envelope]] = []
        for record in records:
            try:
                valid.append((record, subscription.topic.value.model_validate_json(record.value)))
            except ValidationError as error:
                with _record_context(record):
                    reason = describe_validation_error(error)
                    await self._dead_letter(subscription, record, reason, 0)
                metrics.EVENTS_CONSUMED.labels(*labels, "dead_lettered").inc()
        for outcome in await self._apply_batch(subscription, valid) if valid else []:
            metrics.EVENTS_CONSUMED.labels(*labels, outcome).inc()
        metrics.EVENT_PROCESSING.labels(*labels).observe(time.perf_counter() - started)
        await message.ack()

    async def _apply_batch(
        self, subscription: Subscription[Any, U], batch: list[tuple[Any, Envelope]]
    ) -> list[str]:
        events = [event for _, event in batch]
        # Only read when tracing: the batch path pays nothing for traces otherwise.
        parents = [_traceparent(r) for r, _ in batch] if self._tracing.enabled else []
        waits = 0
        while True:
            try:
                applied: list[str] = list(
                    await self._store.run(self.apply_all, subscription, events, parents)
                )
                self._store_answers(subscription)
                return applied
            except Exception as error:
                if not is_transient_store_error(error):  # an event failed: isolate it
                    log.info("batch failed, applying its events singly", error=type(error).__name__)
                    break
                waits += 1
                await self._wait_for_store(subscription, error, waits)
        outcomes = []
        for record, event in batch:
            with _record_context(record), _event_context(event):
                outcomes.append(await self._apply_with_retries(subscription, record, event))
        return outcomes

    async def _apply_with_retries(
        self, subscription: Subscription[Any, U], record: Any, event: Envelope
    ) -> str:
        attempt = waits = 0
        while True:
            try:
                parent = _traceparent(record) if self._tracing.enabled else None
                outcome = await self._store.run(self.apply, subscription, event, parent)
                self._store_answers(subscription)
                return outcome
            except Exception as error:
                if is_transient_store_error(error):  # wait it out: blocking keeps order
                    waits += 1
                    await self._wait_for_store(subscription, error, waits)
                    continue
                attempt += 1
                if isinstance(error, RejectedEvent) or attempt >= self._max_attempts:
                    log.error("event dead-lettered", error=describe_error(error), attempts=attempt)
                    await self._dead_letter(subscription, record, error, attempt)
                    return "dead_lettered"
                metrics.CONSUMER_RETRIES.labels(subscription.topic.name).inc()
                log.warning("event failed, will retry", error=type(error).__name__)
                await asyncio.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        return float(min(self._retry_base * 2 ** min(attempt, 30), self._retry_max))

    async def _wait_for_store(
        self, subscription: Subscription[Any, U], error: BaseException, waits: int
    ) -> None:
        labels = (subscription.topic.name, subscription.group)
        metrics.CONSUMER_STORE_RETRIES.labels(*labels).inc()
        metrics.CONSUMER_STORE_RETRYING.labels(*labels).set(waits)
        report = log.error if waits >= STORE_ALARM_ATTEMPTS else log.warning
        report("store unavailable, will retry", error=describe_error(error), waits=waits)
        await asyncio.sleep(self._backoff(waits))

    def _store_answers(self, subscription: Subscription[Any, U]) -> None:
        metrics.CONSUMER_STORE_RETRYING.labels(subscription.topic.name, subscription.group).set(0)

    def apply(
        self, subscription: Subscription[Any, U], event: Envelope, traceparent: str | None = None
    ) -> Outcome:
        """Apply one event in a transaction of its own."""
        return self.apply_all(subscription, [event], [traceparent])[0]

    def apply_all(
        self,
        subscription: Subscription[Any, U],
        events: list[Envelope],
        traceparents: Sequence[str | None] = (),
    ) -> list[Outcome]:
        """One transaction: in order, skip each event already seen, else handle and remember it.
        With tracing on, each event in a span continuing its traceparent (same order)."""
        outcomes: list[Outcome] = []
        group = subscription.group
        with self._unit_of_work() as uow:
            # One query for the batch; `seen` also catches an event twice in one batch (a
            # relay resend).
            seen = uow.inbox.seen_among(group, [event.event_id for event in events])
            applied: list[UUID] = []
            for index, event in enumerate(events):
                if event.event_id in seen:
                    outcomes.append("duplicate")
                    continue
                handler = subscription.handlers.get(event.event_type)
                if handler is not None:
                    parent = traceparents[index] if traceparents else None
                    with _event_context(event), self._span(subscription, event, parent):
                        handler(uow, event)
                        uow.flush()  # later events in the batch see this one's effects
                seen.add(event.event_id)
                applied.append(event.event_id)
                outcomes.append("processed" if handler is not None else "ignored")
            uow.inbox.record_all(group, applied)
            uow.commit()
        return outcomes

    def _span(
        self, subscription: Subscription[Any, U], event: Envelope, traceparent: str | None
    ) -> AbstractContextManager[Any]:
        """The span an event is handled in (no-op when tracing is off). Never the key."""
        if not self._tracing.enabled:
            return _NO_SPAN
        attributes = messaging_attributes(
            subscription.topic.name,
            "process",
            {
                "messaging.consumer.group.name": subscription.group,
                "messaging.message.id": str(event.event_id),
                "messaging.message.conversation_id": str(event.correlation_id),
                "ensemble.event_type": event.event_type,
            },
        )
        return self._tracing.span(
            f"process {subscription.topic.name}",
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            parent=parent_from(traceparent),
        )

    async def _dead_letter(
        self,
        subscription: Subscription[Any, U],
        record: Any,
        error: BaseException | str,
        attempts: int,
    ) -> None:
        letter = dead_letter_for(record, subscription.group, error, attempts, self._producer)
        await publish_dead_letter(self._broker, letter)


async def _not_decoded(_message: StreamMessage[Any]) -> None:
    """The batch handler validates each record's bytes itself (one pydantic parse each), so
    FastStream's own JSON decoding of every record would be work thrown away."""
    return None


def _traceparent(record: Any) -> str | None:
    return header_traceparent(getattr(record, "headers", None))


def _record_context(record: Any) -> AbstractContextManager[None]:
    trace_id = trace_id_of(_traceparent(record))
    return structlog.contextvars.bound_contextvars(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        **({"trace_id": trace_id} if trace_id else {}),
    )


def _event_context(event: Envelope) -> AbstractContextManager[None]:
    return structlog.contextvars.bound_contextvars(
        event_id=str(event.event_id),
        event_type=event.event_type,
        correlation_id=str(event.correlation_id),
    )
