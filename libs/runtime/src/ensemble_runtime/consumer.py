"""Idempotent, at-least-once consumers on FastStream with manual acknowledgement.

Messages come in batches (what one poll returns across the group's partitions). For a batch:
validate each → one DB transaction applying the events in order (inbox check + handler +
inbox row each) → commit → Kafka offset commit. If a handler fails, that transaction is
rolled back and the batch is applied again one event at a time, so one bad event neither
holds back nor takes down the rest. Poison messages go to `<topic>.dlq` before their offset
is committed. Database errors (outage, deadlock) are retried without limit (blocking keeps order);
other errors a bounded number of times, then the event is dead-lettered.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from ensemble_contracts import Envelope, TopicSpec
from ensemble_runtime import metrics
from ensemble_runtime.db import StoreWorker
from ensemble_runtime.dead_letters import dead_letter_for, publish_dead_letter
from ensemble_runtime.inbox import already_processed, record_processed
from ensemble_runtime.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Envelope)
Handler = Callable[[UnitOfWork, Any], None]
Outcome = Literal["processed", "duplicate", "ignored"]


class RejectedEvent(Exception):
    """A handler's verdict that an event can never be processed: dead-letter it at once."""


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """Which events of a topic a consumer group handles. Other event types are skipped."""

    topic: TopicSpec
    group: str
    handlers: Mapping[str, Callable[[UnitOfWork, E], None]]


def describe_validation_error(error: ValidationError) -> str:
    """Field locations and messages only: input values (possibly PII) are left out."""
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'message'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    )


class EventConsumers:
    def __init__(
        self,
        broker: KafkaBroker,
        engine: Engine,
        producer: str,
        on_commit: Callable[[], None],
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        store: StoreWorker | None = None,
        batch_size: int = 200,
        batch_timeout_ms: int = 25,
    ) -> None:
        self._broker = broker
        self._engine = engine
        self._store = store or StoreWorker(engine)
        self._producer = producer
        self._on_commit = on_commit
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._batch_size = batch_size
        self._batch_timeout_ms = batch_timeout_ms

    def register(self, subscription: Subscription[Any]) -> None:
        async def on_batch(message: KafkaMessage) -> None:
            await self.process_batch(subscription, message)

        on_batch.__name__ = f"on_{subscription.group}_{subscription.topic.name}".replace(".", "_")
        self._broker.subscriber(
            subscription.topic.name,
            group_id=subscription.group,
            ack_policy=AckPolicy.MANUAL,
            batch=True,
            max_records=self._batch_size,
            batch_timeout_ms=self._batch_timeout_ms,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            description=f"{subscription.group} consumes {subscription.topic.name}",
        )(on_batch)

    async def process_batch(self, subscription: Subscription[Any], message: KafkaMessage) -> None:
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
        self, subscription: Subscription[Any], batch: list[tuple[Any, Envelope]]
    ) -> list[str]:
        events = [event for _, event in batch]
        attempt = 0
        while True:
            attempt += 1
            try:
                return list(await self._store.run(self.apply_all, subscription, events))
            except OperationalError as error:  # store away, or a deadlock: wait, keep order
                log.warning("store error, will retry", error=_driver_error(error))
                await asyncio.sleep(min(self._retry_base * 2**attempt, 5.0))
            except Exception as error:  # an event failed: isolate it, one event at a time
                log.info("batch failed, applying its events singly", error=type(error).__name__)
                break
        outcomes = []
        for record, event in batch:
            with _record_context(record), _event_context(event):
                outcomes.append(await self._apply_with_retries(subscription, record, event))
        return outcomes

    async def _apply_with_retries(
        self, subscription: Subscription[Any], record: Any, event: Envelope
    ) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._store.run(self.apply, subscription, event)
            except OperationalError as error:
                log.warning("store error, will retry", error=_driver_error(error))
                await asyncio.sleep(min(self._retry_base * 2**attempt, 5.0))
            except Exception as error:
                if isinstance(error, RejectedEvent) or attempt >= self._max_attempts:
                    log.error("event dead-lettered", error=type(error).__name__, attempts=attempt)
                    await self._dead_letter(subscription, record, error, attempt)
                    return "dead_lettered"
                metrics.CONSUMER_RETRIES.labels(subscription.topic.name).inc()
                log.warning("event failed, will retry", error=type(error).__name__)
                await asyncio.sleep(self._retry_base * 2**attempt)

    def apply(self, subscription: Subscription[Any], event: Envelope) -> Outcome:
        """Apply one event in a transaction of its own."""
        return self.apply_all(subscription, [event])[0]

    def apply_all(self, subscription: Subscription[Any], events: list[Envelope]) -> list[Outcome]:
        """One transaction: in order, skip each event already seen, else handle and remember it."""
        outcomes: list[Outcome] = []
        seen: set[UUID] = set()  # a batch may carry the same event twice (a relay resend)
        with UnitOfWork(self._engine, self._producer, self._on_commit) as uow:
            for event in events:
                if event.event_id in seen or already_processed(
                    uow.session, subscription.group, event.event_id
                ):
                    outcomes.append("duplicate")
                    continue
                handler = subscription.handlers.get(event.event_type)
                if handler is not None:
                    with _event_context(event):
                        handler(uow, event)
                record_processed(uow.session, subscription.group, event.event_id)
                uow.session.flush()  # later events in the batch see this one's effects
                seen.add(event.event_id)
                outcomes.append("processed" if handler is not None else "ignored")
            uow.commit()
        return outcomes

    async def _dead_letter(
        self,
        subscription: Subscription[Any],
        record: Any,
        error: BaseException | str,
        attempts: int,
    ) -> None:
        letter = dead_letter_for(record, subscription.group, error, attempts, self._producer)
        await publish_dead_letter(self._broker, letter)


def _driver_error(error: OperationalError) -> str:
    """The driver's own error class (e.g. DeadlockDetected), which says more than SQLAlchemy's."""
    return type(error.orig).__name__ if error.orig is not None else type(error).__name__


def _record_context(record: Any) -> AbstractContextManager[None]:
    return structlog.contextvars.bound_contextvars(
        topic=record.topic, partition=record.partition, offset=record.offset
    )


def _event_context(event: Envelope) -> AbstractContextManager[None]:
    return structlog.contextvars.bound_contextvars(
        event_id=str(event.event_id),
        event_type=event.event_type,
        correlation_id=str(event.correlation_id),
    )
