"""The relay's rules without a broker: per-key order, parking, and no lost wake-up."""

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.outbox import PendingRow
from ensemble_runtime.relay import OutboxRelay


class FakeProducer:
    """Acknowledges every send, except those whose payload names an error to raise."""

    def __init__(self, errors: dict[str, BaseException], at_send: bool = False) -> None:
        self.errors = errors
        self.at_send = at_send

    async def send(self, topic: str, value: bytes, key: Any, headers: Any) -> "asyncio.Future[Any]":
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        error = self.errors.get(value.decode())
        if error is not None and self.at_send:
            raise error
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(None)
        return future


def row(row_id: int, key: str, payload: str) -> PendingRow:
    return PendingRow(
        id=row_id,
        topic="t",
        key=key,
        event_id=uuid4(),
        event_type="x",
        correlation_id=str(uuid4()),
        payload=payload,
    )


@pytest.fixture
def relay(tmp_path: Path) -> OutboxRelay:
    return OutboxRelay(create_db_engine(f"sqlite:///{tmp_path / 's.db'}"), "unused:1")


@pytest.fixture
def parked(relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch) -> list[DeadLetter]:
    letters: list[DeadLetter] = []

    async def send_letter(letter: DeadLetter) -> None:
        letters.append(letter)

    monkeypatch.setattr(relay, "_send_letter", send_letter)
    return letters


@pytest.mark.parametrize("at_send", [False, True], ids=["refused-by-broker", "refused-at-send"])
async def test_a_refused_row_is_parked_and_its_key_flows_on(
    relay: OutboxRelay, parked: list[DeadLetter], at_send: bool
) -> None:
    refused = MessageSizeTooLargeError("too large")
    rows = [row(1, "A", "a1"), row(2, "A", "huge"), row(3, "A", "a3"), row(4, "B", "b1")]
    producer = FakeProducer({"huge": refused}, at_send)
    assert await relay._publish(producer, rows) == [1, 2, 3, 4]
    (letter,) = parked
    assert letter.error_type == "MessageSizeTooLargeError"
    assert letter.source_topic == "t" and letter.source_key == "A"
    assert letter.payload == "huge" and letter.consumer == "outbox-relay"
    assert letter.source_offset == -1


async def test_a_passing_failure_stops_its_key_only(
    relay: OutboxRelay, parked: list[DeadLetter]
) -> None:
    rows = [
        row(1, "A", "a1"),
        row(2, "A", "away"),
        row(3, "A", "a3"),
        row(4, "B", "b1"),
        row(5, "A", "huge"),  # behind A's failure: waits, is not parked yet
    ]
    errors = {"away": KafkaConnectionError(), "huge": MessageSizeTooLargeError()}
    assert await relay._publish(FakeProducer(errors), rows) == [1, 4]
    assert parked == []


async def test_a_broker_away_at_send_stops_the_round(
    relay: OutboxRelay, parked: list[DeadLetter]
) -> None:
    rows = [row(1, "A", "away"), row(2, "B", "b1")]
    producer = FakeProducer({"away": KafkaTimeoutError()}, at_send=True)
    assert await relay._publish(producer, rows) == []
    assert parked == []


async def test_a_row_is_not_marked_when_its_letter_cannot_be_sent(
    relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broker_away(letter: DeadLetter) -> None:
        raise KafkaConnectionError()

    monkeypatch.setattr(relay, "_send_letter", broker_away)
    rows = [row(1, "A", "huge"), row(2, "A", "a2"), row(3, "B", "b1")]
    producer = FakeProducer({"huge": MessageSizeTooLargeError()})
    assert await relay._publish(producer, rows) == [3]


async def test_a_letter_too_large_itself_goes_without_payload(
    relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[DeadLetter] = []

    async def send_letter(letter: DeadLetter) -> None:
        if letter.payload:
            raise MessageSizeTooLargeError()
        sent.append(letter)

    monkeypatch.setattr(relay, "_send_letter", send_letter)
    producer = FakeProducer({"huge": MessageSizeTooLargeError()})
    assert await relay._publish(producer, [row(7, "A", "huge")]) == [7]
    (letter,) = sent
    assert letter.payload == ""
    assert "payload of 4 bytes omitted" in letter.error
    assert "outbox row 7" in letter.error


async def test_a_commit_during_a_round_wakes_the_next_round_at_once(
    relay: OutboxRelay,
) -> None:
    """A notify that lands after the rows were read must not wait for the poll interval."""
    relay._poll_seconds = 30
    relay._loop = asyncio.get_running_loop()
    reads: list[float] = []

    class Stop(Exception):
        pass

    def pending() -> list[PendingRow]:
        reads.append(time.monotonic())
        if len(reads) == 2:
            raise Stop
        relay.notify()  # a commit lands just after this read
        return []

    relay._pending = pending  # type: ignore[method-assign]
    with pytest.raises(Stop):
        await asyncio.wait_for(relay._relay_forever(FakeProducer({})), 5)
    assert reads[1] - reads[0] < 1


async def test_a_relay_standing_by_for_another_replica_is_ready(
    relay: OutboxRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another replica holds the leader lock: this one is ready (a rollout of two replicas
    would otherwise never finish), though not connected."""

    @contextlib.contextmanager
    def lock_held_elsewhere() -> Any:
        yield lambda: False

    monkeypatch.setattr(relay, "_leader_lock", lock_held_elsewhere)
    assert not relay.ready
    relay.start()
    try:
        for _ in range(100):
            if relay.standing_by:
                break
            await asyncio.sleep(0.01)
        assert relay.standing_by and relay.ready and not relay.connected
    finally:
        await relay.stop()
