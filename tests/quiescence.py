"""Wait until the running system has nothing left to do: no event unpublished or unconsumed.

Quiet means, in this order:
1. the end offsets E of every subscribed topic are read;
2. every consumer group has committed E on its topics (zero lag);
3. no service's outbox has an unpublished row;
4. the end offsets are still E.

Then nothing is in flight: an event produced before (1) is consumed and its effects are
committed by (2), since a consumer commits its offsets after its transaction; an event
produced after (1) would have moved the offsets by (4); and every row staged in an outbox
before (3) is published. Only new input (HTTP, MLLP) can wake the system again.
"""

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hospital_feed.service import DEFINITION as HOSPITAL_FEED
from referral.service import DEFINITION as REFERRAL
from scheduling.service import DEFINITION as SCHEDULING
from scoring.service import DEFINITION as SCORING

from .flow import Ensemble

DEFINITIONS = (HOSPITAL_FEED, SCORING, REFERRAL, SCHEDULING)
UNPUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


def consumer_groups() -> dict[str, set[str]]:
    """Every consumer group of the system and the topics it consumes, from the definitions."""
    groups: dict[str, set[str]] = {}
    for definition in DEFINITIONS:
        for subscription in definition.subscriptions:
            groups.setdefault(subscription.group, set()).add(subscription.topic.name)
    return groups


def wait_until_quiet(ensemble: Ensemble, timeout: float = 120.0) -> None:
    """Return once the system is quiet (see the module docstring); fail after `timeout`."""
    asyncio.run(_wait_until_quiet(ensemble, time.monotonic() + timeout, timeout))


async def _wait_until_quiet(ensemble: Ensemble, deadline: float, allowed: float) -> None:
    bootstrap = ensemble.broker.bootstrap_servers
    groups = consumer_groups()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    try:
        await consumer.start()
        try:
            topics = sorted(set().union(*groups.values()))
            partitions = {
                d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
                for d in await admin.describe_topics(topics)
            }
            busy = "not checked yet"
            while time.monotonic() < deadline:
                busy = await _busy(ensemble, admin, consumer, groups, partitions)
                if not busy:
                    return
                await asyncio.sleep(0.2)  # poll interval, not a wait for anything to happen
            raise AssertionError(f"the system was not quiet after {allowed}s: {busy}")
        finally:
            await consumer.stop()
    finally:
        await admin.close()


async def _busy(
    ensemble: Ensemble,
    admin: AIOKafkaAdminClient,
    consumer: AIOKafkaConsumer,
    groups: dict[str, set[str]],
    partitions: dict[str, list[TopicPartition]],
) -> str:
    """What is still in flight, or "" when the system is quiet."""
    everything = [tp for tps in partitions.values() for tp in tps]
    ends = await consumer.end_offsets(everything)
    for group, topics in sorted(groups.items()):
        mine = [tp for topic in sorted(topics) for tp in partitions[topic]]
        committed = await admin.list_consumer_group_offsets(group, partitions=mine)
        # -1 (or no entry): the group has committed nothing on that partition yet.
        lag = sum(ends[tp] - max(committed[tp].offset if tp in committed else 0, 0) for tp in mine)
        if lag:
            return f"{group} lags {lag} on {', '.join(sorted(topics))}"
    for service in ensemble.system.processes:
        unpublished = ensemble.count(service, UNPUBLISHED)
        if unpublished:
            return f"{service} has {unpublished} unpublished outbox rows"
    if await consumer.end_offsets(everything) != ends:
        return "events were published meanwhile"
    return ""
