"""Driving a consumer as the runtime does, minus Kafka: polled records in, dead letters out."""

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime import consumer as runtime_consumer
from ensemble_runtime.dead_letters import dead_letter_for as make_letter
from ensemble_runtime.dead_letters import letter_bytes


@dataclass
class FakeMessage:
    """What FastStream hands a batch subscriber: the polled records, and an ack."""

    raw_message: tuple[ConsumerRecord[bytes, bytes], ...]
    acked: bool = False

    async def ack(self) -> None:
        self.acked = True


@dataclass
class DeadLetters:
    """Letters the consumers would publish (to `<topic>.dlq`), and the errors behind them."""

    letters: list[DeadLetter] = field(default_factory=list)
    errors: dict[int, BaseException | str] = field(default_factory=dict)  # by source offset
    kept: list[DeadLetter] = field(default_factory=list)  # every letter, never cleared

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def dead_letter_for(record: Any, consumer: str, error: Any, *args: Any) -> DeadLetter:
            self.errors[record.offset] = error
            return make_letter(record, consumer, error, *args)

        async def publish_dead_letter(_broker: Any, letter: DeadLetter) -> None:
            letter_bytes(letter)  # what would go to Kafka must serialise
            self.letters.append(letter)
            self.kept.append(letter)

        monkeypatch.setattr(runtime_consumer, "dead_letter_for", dead_letter_for)
        monkeypatch.setattr(runtime_consumer, "publish_dead_letter", publish_dead_letter)

    def clear(self) -> None:
        self.letters.clear()
        self.errors.clear()


class Offsets:
    """Source offsets for fake records: unique within a run."""

    def __init__(self) -> None:
        self._next = 0

    def take(self) -> int:
        self._next += 1
        return self._next


def record(
    topic: str, offset: int, value: bytes, traceparent: str | None = None
) -> ConsumerRecord[bytes, bytes]:
    """A polled record, keyed as producers key it (the NHS number), if the value has one,
    with the relay's `traceparent` header when given."""
    try:
        key = json.loads(value).get("nhs_number")
    except (ValueError, AttributeError, RecursionError):
        key = None
    key_bytes = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else None
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key_bytes,
        value=value,
        checksum=None,
        serialized_key_size=len(key_bytes or b""),
        serialized_value_size=len(value),
        headers=(("traceparent", traceparent.encode()),) if traceparent else (),
    )
