"""Idempotent, at-least-once consumers on FastStream with manual acknowledgement.

For each message: validate → (inbox check + handler + inbox row) in one DB transaction →
commit → Kafka offset commit. Poison messages go to `<topic>.dlq` before their offset is
committed. Database outages are retried without limit (blocking the partition keeps order);
other errors a bounded number of times, then the message is dead-lettered.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

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
    ) -> None:
        self._broker = broker
        self._engine = engine
        self._store = store or StoreWorker(engine)
        self._producer = producer
        self._on_commit = on_commit
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds

    def register(self, subscription: Subscription[Any]) -> None:
        async def on_message(message: KafkaMessage) -> None:
            await self.process(subscription, message)

        on_message.__name__ = f"on_{subscription.group}_{subscription.topic.name}".replace(".", "_")
        self._broker.subscriber(
            subscription.topic.name,
            group_id=subscription.group,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
            description=f"{subscription.group} consumes {subscription.topic.name}",
        )(on_message)

    async def process(self, subscription: Subscription[Any], message: KafkaMessage) -> None:
        record = message.raw_message
        assert not isinstance(record, tuple)  # non-batch subscriber
        labels = (subscription.topic.name, subscription.group)
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            topic=record.topic, partition=record.partition, offset=record.offset
        ):
            try:
                event = subscription.topic.value.model_validate_json(message.body)
            except ValidationError as error:
                await self._dead_letter(subscription, record, describe_validation_error(error), 0)
                metrics.EVENTS_CONSUMED.labels(*labels, "dead_lettered").inc()
                await message.ack()
                return
            with structlog.contextvars.bound_contextvars(
                event_id=str(event.event_id),
                event_type=event.event_type,
                correlation_id=str(event.correlation_id),
            ):
                outcome = await self._apply_with_retries(subscription, record, event)
        metrics.EVENTS_CONSUMED.labels(*labels, outcome).inc()
        metrics.EVENT_PROCESSING.labels(*labels).observe(time.perf_counter() - started)
        await message.ack()

    async def _apply_with_retries(
        self, subscription: Subscription[Any], record: Any, event: Envelope
    ) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._store.run(self.apply, subscription, event)
            except OperationalError as error:  # the store is away: wait for it, keep order
                log.warning("store unavailable, will retry", error=type(error).__name__)
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
        """One transaction: skip if seen, else run the handler and remember the event_id."""
        handler = subscription.handlers.get(event.event_type)
        with UnitOfWork(self._engine, self._producer, self._on_commit) as uow:
            if already_processed(uow.session, subscription.group, event.event_id):
                return "duplicate"
            if handler is not None:
                handler(uow, event)
            record_processed(uow.session, subscription.group, event.event_id)
            uow.commit()
        return "processed" if handler is not None else "ignored"

    async def _dead_letter(
        self,
        subscription: Subscription[Any],
        record: Any,
        error: BaseException | str,
        attempts: int,
    ) -> None:
        letter = dead_letter_for(record, subscription.group, error, attempts, self._producer)
        await publish_dead_letter(self._broker, letter)
