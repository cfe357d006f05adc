"""Ops metrics (a component every service runs) and the consumers' part of `/readyz`.

Every `OPS_SAMPLE_SECONDS`, from the store and from the broker:
- `ensemble_outbox_backlog` and `ensemble_outbox_oldest_unpublished_age_seconds`: one
  indexed query (`published_at IS NULL`) on a reader.
- `ensemble_consumer_lag{group,topic,partition}`: for each consumer group of the service, the
  partition's end offset minus the group's committed offset (a partition the group has never
  committed counts from its beginning, as `auto_offset_reset=earliest` reads it).
- `ensemble_dead_letter_depth{topic}`: end minus beginning offsets of the dead-letter topics
  of what the service consumes and publishes (cheap: offsets only, no message is read).
A sample the broker or store does not answer counts in `ensemble_ops_sample_failures_total`
and leaves the gauges as they were.

Readiness: `consumers_connected` says whether every consumer of the broker is running and its
Kafka client holds a live connection (aiokafka drops a connection the broker closed and
stores a new one only once connected), so a consumer cut off from the broker makes `/readyz`
answer 503 until it is back.
"""

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select
from sqlmodel import Session

from ensemble_runtime import metrics
from ensemble_runtime.kafka_security import PLAINTEXT, KafkaSecurity
from ensemble_runtime.outbox import OUTBOX

if TYPE_CHECKING:
    from ensemble_runtime.definition import ServiceDefinition, Subscription
    from ensemble_runtime.service import ServiceRuntime

log = structlog.get_logger(__name__)


class Backlog(NamedTuple):
    rows: int
    oldest: datetime | None  # created_at of the oldest unpublished row


def outbox_backlog(session: Session) -> Backlog:
    unpublished = OUTBOX.c.published_at.is_(None)
    found = session.execute(
        select(func.count(), func.min(OUTBOX.c.created_at)).where(unpublished)
    ).one()
    return Backlog(int(found[0]), found[1])  # min() keeps the column's type: aware UTC


def outbox_backlog_by_topic(session: Session) -> dict[str, Backlog]:
    """The backlog per topic (for `ensemble outbox status`): topics with unpublished rows."""
    unpublished = OUTBOX.c.published_at.is_(None)
    found = session.execute(
        select(OUTBOX.c.topic, func.count(), func.min(OUTBOX.c.created_at))
        .where(unpublished)
        .group_by(OUTBOX.c.topic)
        .order_by(OUTBOX.c.topic)
    ).all()
    return {str(topic): Backlog(int(rows), oldest) for topic, rows, oldest in found}


def lag_of(
    ends: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
    beginnings: Mapping[TopicPartition, int],
) -> dict[TopicPartition, int]:
    """Per partition: end offset minus the committed one (from the beginning if none)."""
    lag = {}
    for partition, end in ends.items():
        position = committed.get(partition, -1)
        if position < 0:
            position = beginnings.get(partition, 0)
        lag[partition] = max(end - position, 0)
    return lag


class OffsetReader:
    """Offsets from the broker: groups' committed ones (admin) and partitions' ends and
    beginnings (a consumer of no group, which never joins or commits)."""

    def __init__(self, bootstrap_servers: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self._options = {"bootstrap_servers": bootstrap_servers, **security.client_options()}
        self._clients: tuple[AIOKafkaAdminClient, AIOKafkaConsumer] | None = None

    async def _started(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        """Started clients; new ones after a close (an aiokafka client does not restart)."""
        if self._clients is None:
            admin = AIOKafkaAdminClient(request_timeout_ms=10000, **self._options)
            consumer = AIOKafkaConsumer(
                group_id=None, enable_auto_commit=False, request_timeout_ms=10000, **self._options
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await _close(admin, consumer)
                raise
            self._clients = admin, consumer
        return self._clients

    async def close(self) -> None:
        if self._clients is not None:
            clients, self._clients = self._clients, None
            await _close(*clients)

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        admin, _ = await self._started()
        described = await admin.describe_topics(sorted(set(topics)))
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if not topic["error_code"]
            for partition in topic["partitions"]
        ]

    async def ends(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        _, consumer = await self._started()
        return dict(await consumer.end_offsets(partitions)) if partitions else {}

    async def beginnings(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        _, consumer = await self._started()
        return dict(await consumer.beginning_offsets(partitions)) if partitions else {}

    async def committed(
        self, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        admin, _ = await self._started()
        found = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return {partition: meta.offset for partition, meta in found.items()}


async def _close(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
    with contextlib.suppress(Exception):
        await consumer.stop()
    with contextlib.suppress(Exception):
        await admin.close()


async def consumer_lag(
    offsets: "OffsetReader", groups: Mapping[str, Iterable[str]]
) -> dict[tuple[str, str, int], int]:
    """(group, topic, partition) -> lag, for each consumer group and its topics."""
    sampled: dict[tuple[str, str, int], int] = {}
    for group, topics in sorted(groups.items()):
        partitions = await offsets.partitions(topics)
        ends = await offsets.ends(partitions)
        committed = await offsets.committed(group, partitions)
        uncommitted = [p for p in partitions if committed.get(p, -1) < 0]
        beginnings = await offsets.beginnings(uncommitted)
        for partition, lag in lag_of(ends, committed, beginnings).items():
            sampled[(group, partition.topic, partition.partition)] = lag
    return sampled


def consumer_groups(subscriptions: "Iterable[Subscription[Any, Any]]") -> dict[str, set[str]]:
    """Consumer group -> its topics, from a definition's subscriptions."""
    groups: dict[str, set[str]] = {}
    for subscription in subscriptions:
        groups.setdefault(subscription.group, set()).add(subscription.topic.name)
    return groups


def dead_letter_topics(definition: "ServiceDefinition[Any, Any]") -> list[str]:
    """The DLQs of what a service consumes (its groups' letters) and publishes (the relay's)."""
    sources = {s.topic.name for s in definition.subscriptions}
    sources |= {topic.name for topic in definition.publishes}
    return sorted(f"{topic}.dlq" for topic in sources)


class OpsMetrics:
    """Samples the outbox backlog, consumer lag and dead-letter depth into their gauges."""

    def __init__(self, runtime: "ServiceRuntime[Any, Any]", sample_seconds: float = 15.0) -> None:
        if sample_seconds <= 0:
            raise ValueError("OPS_SAMPLE_SECONDS must be > 0")
        self.runtime = runtime
        self.sample_seconds = sample_seconds
        # consumer group -> its topics
        self.groups: dict[str, set[str]] = consumer_groups(runtime.definition.subscriptions)
        self.dead_letter_topics = dead_letter_topics(runtime.definition)
        settings = runtime.settings
        self.offsets = OffsetReader(settings.kafka_bootstrap_servers, runtime.kafka_security)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ops-metrics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.offsets.close()

    async def sample_outbox(self) -> Backlog:
        backlog = await self.runtime.read(outbox_backlog)
        metrics.OUTBOX_BACKLOG.set(backlog.rows)
        age = 0.0
        if backlog.oldest is not None:
            age = max((self.runtime.clock() - backlog.oldest).total_seconds(), 0.0)
        metrics.OUTBOX_OLDEST_UNPUBLISHED_AGE.set(age)
        return backlog

    async def sample_lag(self) -> dict[tuple[str, str, int], int]:
        """(group, topic, partition) -> lag, for every group of the service."""
        sampled = await consumer_lag(self.offsets, self.groups)
        for (group, topic, partition), lag in sampled.items():
            metrics.CONSUMER_LAG.labels(group, topic, str(partition)).set(lag)
        return sampled

    async def sample_dead_letters(self) -> dict[str, int]:
        partitions = await self.offsets.partitions(self.dead_letter_topics)
        ends = await self.offsets.ends(partitions)
        beginnings = await self.offsets.beginnings(partitions)
        depth: dict[str, int] = dict.fromkeys(self.dead_letter_topics, 0)
        for partition, end in ends.items():
            depth[partition.topic] += max(end - beginnings.get(partition, 0), 0)
        for topic, messages in depth.items():
            metrics.DEAD_LETTER_DEPTH.labels(topic).set(messages)
        return depth

    async def sample(self) -> None:
        """One round; each part on its own, so a broker outage still leaves the outbox's."""
        for name, part in (
            ("outbox", self.sample_outbox),
            ("consumer_lag", self.sample_lag),
            ("dead_letters", self.sample_dead_letters),
        ):
            try:
                await part()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                metrics.OPS_SAMPLE_FAILURES.labels(name).inc()
                log.warning("ops sample failed", sample=name, error=type(error).__name__)
                if name != "outbox":  # reconnect next round
                    await self.offsets.close()

    async def _run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.sample_seconds)


def ops_metrics(runtime: "ServiceRuntime[Any, Any]") -> OpsMetrics:
    return OpsMetrics(runtime, runtime.settings.ops_sample_seconds)


def consumers_connected(broker: KafkaBroker) -> bool:
    """Every consumer of the broker is running with a live connection to the broker.

    Reads aiokafka's client state (`_client._conns`): aiokafka has no public "connected"
    answer for a consumer; `test_ops_metrics` on a real broker pins this behaviour.
    """
    for subscriber in broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None or not getattr(subscriber, "running", False):
            return False
        tasks = getattr(subscriber, "tasks", [])
        if any(task.done() for task in tasks):  # the consume loop ended
            return False
        connections = getattr(getattr(consumer, "_client", None), "_conns", {})
        if not any(connection.connected() for connection in list(connections.values())):
            return False
    return True
