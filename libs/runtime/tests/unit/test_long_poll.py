"""Consumers poll long and never sleep after an empty poll (consumer.LongPollBatchSubscriber)."""

from typing import Any

import anyio
import pytest
from faststream.kafka import KafkaBroker

from ensemble_runtime.consumer import LongPollBatchSubscriber, long_poll


class FakeConsumer:
    """What get_msg asks of aiokafka: getmany, answered from a script of polls."""

    def __init__(self, *polls: dict[str, list[str]]) -> None:
        self.polls = list(polls)
        self.asked: list[dict[str, Any]] = []

    async def getmany(self, **asked: Any) -> dict[str, list[str]]:
        self.asked.append(asked)
        return self.polls.pop(0)


def batch_subscriber(timeout_ms: int = 1000) -> Any:
    broker = KafkaBroker()
    return broker.subscriber(
        "t", group_id="g", batch=True, max_records=7, batch_timeout_ms=timeout_ms
    )


async def test_an_empty_poll_returns_at_once_without_sleeping(monkeypatch) -> None:
    async def no_sleep(_seconds: float) -> None:
        raise AssertionError("slept after an empty poll")

    monkeypatch.setattr(anyio, "sleep", no_sleep)
    subscriber = batch_subscriber(timeout_ms=1000)
    long_poll(subscriber)
    consumer = FakeConsumer({}, {"p0": ["a", "b"], "p1": ["c"]})

    assert await subscriber.get_msg(consumer) == ()
    assert await subscriber.get_msg(consumer) == ("a", "b", "c")
    assert consumer.asked == [{"timeout_ms": 1000, "max_records": 7}] * 2


async def test_faststreams_own_subscriber_sleeps_as_long_as_it_polled(monkeypatch) -> None:
    # The behaviour long_poll replaces: if FastStream drops the sleep, this tells us.
    slept: list[float] = []

    async def record_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(anyio, "sleep", record_sleep)
    assert await batch_subscriber(timeout_ms=10).get_msg(FakeConsumer({})) == ()
    assert slept == [0.01]


def test_only_faststreams_batch_subscriber_is_changed() -> None:
    subscriber = batch_subscriber()
    long_poll(subscriber)
    assert type(subscriber) is LongPollBatchSubscriber
    with pytest.raises(TypeError, match="not FastStream's batch subscriber"):
        long_poll(KafkaBroker().subscriber("t", group_id="g"))
