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
        options = {"bootstrap_servers": bootstrap_servers, **security.client_options()}
        self._admin = AIOKafkaAdminClient(request_timeout_ms=10000, **options)
        self._consumer = AIOKafkaConsumer(
            group_id=None, enable_auto_commit=False, request_timeout_ms=10000, **options
        )
        self._started = False

    async def _ensure_started(self) -> None:
        if not self._started:
            await self._admin.start()
            await self._consumer.start()
            self._started = True

    async def close(self) -> None:
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            with contextlib.suppress(Exception):
                await self._admin.close()

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        await self._ensure_started()
        described = await self._admin.describe_topics(sorted(set(topics)))
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if not topic["error_code"]
            for partition in topic["partitions"]
        ]

    async def ends(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        await self._ensure_started()
        return dict(await self._consumer.end_offsets(partitions)) if partitions else {}

    async def beginnings(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        await self._ensure_started()
        return dict(await self._consumer.beginning_offsets(partitions)) if partitions else {}

    async def committed(
        self, group: str, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        await self._ensure_started()
        found = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
        return {partition: meta.offset for partition, meta in found.items()}


class OpsMetrics:
    """Samples the outbox backlog, consumer lag and dead-letter depth into their gauges."""

    def __init__(self, runtime: "ServiceRuntime[Any, Any]", sample_seconds: float = 15.0) -> None:
        if sample_seconds <= 0:
            raise ValueError("OPS_SAMPLE_SECONDS must be > 0")
        self.runtime = runtime
        self.sample_seconds = sample_seconds
        self.groups: dict[str, set[str]] = {}  # consumer group -> its topics
        for subscription in runtime.definition.subscriptions:
            self.groups.setdefault(subscription.group, set()).add(subscription.topic.name)
        sources = {s.topic.name for s in runtime.definition.subscriptions}
        sources |= {topic.name for topic in runtime.definition.publishes}
        self.dead_letter_topics = sorted(f"{topic}.dlq" for topic in sources)
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
        sampled: dict[tuple[str, str, int], int] = {}
        for group, topics in sorted(self.groups.items()):
            partitions = await self.offsets.partitions(topics)
            ends = await self.offsets.ends(partitions)
            committed = await self.offsets.committed(group, partitions)
            uncommitted = [p for p in partitions if committed.get(p, -1) < 0]
            beginnings = await self.offsets.beginnings(uncommitted)
            for partition, lag in lag_of(ends, committed, beginnings).items():
                key = (group, partition.topic, partition.partition)
                metrics.CONSUMER_LAG.labels(group, partition.topic, str(partition.partition)).set(
                    lag
                )
                sampled[key] = lag
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
