"""Offset commits off the consume loop: after the store commit, one in flight per consumer,
what arrives meanwhile coalesced into the next; lost ones only mean redelivery."""

import asyncio
from dataclasses import dataclass
from typing import cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError

from ensemble_runtime.offset_commits import OffsetCommits

A, B, GONE = TopicPartition("t", 0), TopicPartition("t", 1), TopicPartition("t", 2)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int


class FakeConsumer:
    """Commits wait until released; records what each commit asked for."""

    def __init__(self, fail: int = 0) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.release = asyncio.Event()
        self.fail = fail  # the first `fail` commits raise

    def assignment(self) -> set[TopicPartition]:
        return {A, B}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        await self.release.wait()
        if self.fail:
            self.fail -= 1
            raise CommitFailedError("rebalancing")


def records(*spec: tuple[TopicPartition, int]) -> list[Record]:
    return [Record(tp.topic, tp.partition, offset) for tp, offset in spec]


def as_consumer(fake: FakeConsumer) -> AIOKafkaConsumer:
    return cast(AIOKafkaConsumer, fake)


async def test_batches_handed_over_during_a_commit_share_the_next_one() -> None:
    fake, commits = FakeConsumer(), OffsetCommits("g")
    commits.applied(as_consumer(fake), records((A, 4), (A, 5), (B, 9)))
    await asyncio.sleep(0)  # the first commit is in flight, held
    commits.applied(as_consumer(fake), records((A, 6)))
    commits.applied(as_consumer(fake), records((B, 10), (A, 7)))
    fake.release.set()
    await commits.flush()
    # The next offset to read, per partition: the highest applied + 1.
    assert fake.commits == [{A: 6, B: 10}, {A: 8, B: 11}]


async def test_a_partition_no_longer_owned_is_not_committed() -> None:
    fake, commits = FakeConsumer(), OffsetCommits("g")
    fake.release.set()
    commits.applied(as_consumer(fake), records((GONE, 3)))
    await commits.flush()
    assert fake.commits == []
    commits.applied(as_consumer(fake), records((GONE, 4), (A, 1)))
    await commits.flush()
    assert fake.commits == [{A: 2}]


async def test_a_failed_commit_is_dropped_and_later_ones_go_on() -> None:
    fake, commits = FakeConsumer(fail=1), OffsetCommits("g")
    fake.release.set()
    commits.applied(as_consumer(fake), records((A, 1)))
    await commits.flush()  # raised inside, logged, not raised here
    commits.applied(as_consumer(fake), records((A, 2)))
    await commits.flush()
    assert fake.commits == [{A: 2}, {A: 3}]


async def test_flush_with_nothing_handed_over_returns() -> None:
    await asyncio.wait_for(OffsetCommits("g").flush(), 1)
