"""Kafka offset commits off the consume loop: one in flight per consumer, the rest coalesced.

A batch's offsets are handed over once its events are committed in the store (so an offset
is never committed before its effects). The consume loop then polls on at once instead of
waiting a round trip to the group coordinator; offsets handed over while a commit is in
flight go together in the next one, so under load many batches cost one request.

What this trades is only redelivery, which the inbox absorbs: a crash, a rebalance or a stop
before an offset is committed brings its events again, and each is skipped as a duplicate.
An offset for a partition the consumer no longer owns is dropped (its new owner reads from
the last committed one), as is one whose commit failed.
"""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError

log = structlog.get_logger(__name__)


class OffsetCommits:
    """The offsets one consumer has applied and not yet committed."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._next: dict[TopicPartition, int] = {}  # partition -> the next offset to read
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def applied(self, consumer: AIOKafkaConsumer, records: Iterable[Any]) -> None:
        """These records' events are committed in the store: commit their offsets soon."""
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            self._next[partition] = max(self._next.get(partition, 0), record.offset + 1)
        self._consumer = consumer
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_all(), name=f"commits-{self.group}")

    async def flush(self) -> None:
        """Wait for what was handed over to be committed (or dropped)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _commit_all(self) -> None:
        while self._next and self._consumer is not None:
            offsets, self._next = self._next, {}
            owned = self._consumer.assignment()
            mine = {part: offset for part, offset in offsets.items() if part in owned}
            if not mine:
                continue
            try:
                await self._consumer.commit(mine)
            except (IllegalStateError, KafkaError, ConsumerStoppedError) as error:  # rebalancing
                log.info(
                    "offset commit dropped; its events come again and the inbox skips them",
                    consumer=self.group,
                    error=type(error).__name__,
                )
