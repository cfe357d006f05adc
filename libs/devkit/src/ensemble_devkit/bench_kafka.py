"""The Kafka side of the bench: raw aiokafka as the reference, and consumer-group lag."""

import asyncio
import contextlib
import importlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ensemble_devkit.bench_stats import percentiles
from ensemble_devkit.system import SERVICES

QUIET_FOR = 0.9  # zero lag and unchanged end offsets this long (> a relay's idle poll): quiet
QUIET_PAUSE = 0.2


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topic: str) -> None:
    """A new topic's partitions have no leader for a moment; consuming then only logs noise."""
    for _ in range(100):
        (description,) = await admin.describe_topics([topic])
        partitions = description.get("partitions", [])
        if partitions and all(p.get("leader", -1) >= 0 for p in partitions):
            return
        await asyncio.sleep(0.1)


async def raw_kafka(bootstrap: str, count: int, size: int) -> dict[str, Any]:
    """`count` messages of `size` bytes through one idempotent producer (acks=all) and one
    consumer on a fresh 6-partition topic: what the broker and aiokafka alone can do."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 6, 1)])
        await _wait_for_leaders(admin, topic)
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all"
        )
        await consumer.start()
        await producer.start()
        try:
            return await _produce_consume(producer, consumer, topic, count, size)
        finally:
            await producer.stop()
            await consumer.stop()
    finally:
        with contextlib.suppress(Exception):  # a leftover topic is harmless
            await admin.delete_topics([topic])
        await admin.close()


async def _produce_consume(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, topic: str, count: int, size: int
) -> dict[str, Any]:
    latencies: list[float] = []
    padding = b"x" * max(0, size - 40)

    async def consume() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    sent = float((record.value or b"0|").split(b"|", 1)[0])
                    latencies.append((now - sent) * 1000)

    reader = asyncio.create_task(consume())
    await asyncio.sleep(1)  # let the consumer get its partitions before timing
    started = time.perf_counter()
    for index in range(count):
        value = f"{time.perf_counter()}|".encode() + padding
        await producer.send(topic, value, key=str(index % 500).encode())
    await producer.flush()
    await asyncio.wait_for(reader, 120)
    elapsed = time.perf_counter() - started
    return {
        "messages": count,
        "message_bytes": size,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "latency_ms": percentiles(latencies),
    }


def consumer_groups() -> dict[str, list[str]]:
    """Every consumer group of the system and the topics it reads, from the service
    definitions (imported here only: the devkit does not depend on the services)."""
    groups: dict[str, set[str]] = {}
    for spec in SERVICES:
        definition = importlib.import_module(f"{spec.module}.service").DEFINITION
        for subscription in definition.subscriptions:
            groups.setdefault(subscription.group, set()).add(subscription.topic.name)
    return {group: sorted(topics) for group, topics in sorted(groups.items())}


@dataclass(frozen=True)
class LagSample:
    at: float  # monotonic
    lag: dict[str, int]  # group -> events not yet committed, over all its partitions


class LagMonitor:
    """Lag of every consumer group: its committed offsets against the end offsets."""

    def __init__(self, bootstrap: str, groups: dict[str, list[str]]) -> None:
        self.groups = groups
        self._bootstrap = bootstrap
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        # aiokafka clients belong to the event loop they are made in.
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False
        )
        await self._admin.start()
        await self._consumer.start()
        topics = sorted({topic for topics in self.groups.values() for topic in topics})
        self._partitions = {
            d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
            for d in await self._admin.describe_topics(topics)
        }

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def _ends(self) -> dict[TopicPartition, int]:
        everything = [tp for tps in self._partitions.values() for tp in tps]
        ends: dict[TopicPartition, int] = await self._consumer.end_offsets(everything)
        return ends

    async def end_offsets(self) -> dict[str, int]:
        """Per topic, the sum of its partitions' end offsets: events ever written to it."""
        totals: dict[str, int] = {}
        for tp, end in (await self._ends()).items():
            totals[tp.topic] = totals.get(tp.topic, 0) + end
        return totals

    async def sample(self) -> LagSample:
        ends = await self._ends()
        return LagSample(time.monotonic(), await self._lag(ends))

    async def _lag(self, ends: dict[TopicPartition, int]) -> dict[str, int]:
        lag: dict[str, int] = {}
        for group, topics in self.groups.items():
            mine = [tp for topic in topics for tp in self._partitions[topic]]
            committed = await self._admin.list_consumer_group_offsets(group, partitions=mine)
            # -1, or no entry: nothing committed yet; the group starts from the beginning.
            lag[group] = sum(
                ends[tp] - max(committed[tp].offset if tp in committed else 0, 0) for tp in mine
            )
        return lag

    async def sample_until(self, stop: asyncio.Event, interval: float) -> list[LagSample]:
        samples = [await self.sample()]
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            samples.append(await self.sample())
        return samples

    async def wait_quiet(self, within: float) -> float | None:
        """Seconds until every group had caught up and nothing more was published (confirmed
        for QUIET_FOR); None if not `within` seconds (on a shared broker others may write)."""
        started = time.monotonic()
        since: float | None = None  # caught up since, with the end offsets `previous`
        previous: dict[TopicPartition, int] = {}
        while time.monotonic() - started < within:
            ends = await self._ends()
            lag = await self._lag(ends)
            now = time.monotonic()
            if any(lag.values()):
                since = None
            elif since is None or ends != previous:
                since, previous = now, ends
            elif now - since >= QUIET_FOR:
                return since - started
            await asyncio.sleep(QUIET_PAUSE)
        return None
