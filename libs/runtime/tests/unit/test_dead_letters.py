"""Dead letters: built without values, and sent without payload when Kafka refuses their size."""

from typing import Any

from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime.dead_letters import dead_letter_for, publish_dead_letter, replay_marker

from ..support import encounter


class Record:
    topic, partition, offset, key = "hospital.encounters.v1", 2, 40, b"9990000018"

    def __init__(self, value: bytes) -> None:
        self.value = value


class Broker:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.published: list[tuple[DeadLetter, str]] = []

    async def publish(self, value: bytes, topic: str, key: Any, headers: Any) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.published.append((DeadLetter.model_validate_json(value), topic))


def test_a_letter_names_the_failed_event_and_no_values() -> None:
    event = encounter("9990000018", 1)
    letter = dead_letter_for(
        Record(event.model_dump_json().encode()), "g", KeyError("9990000018"), 5, "svc"
    )
    assert letter.causation_id == event.event_id
    assert letter.correlation_id == event.correlation_id
    assert letter.error == "KeyError" and letter.error_type == "KeyError"
    odd = dead_letter_for(Record(b"\xff[1, 2]"), "g", "message: Invalid JSON", 0, "svc")
    assert odd.payload_encoding == "base64" and odd.causation_id is None


async def test_a_letter_too_large_for_kafka_goes_without_payload() -> None:
    letter = dead_letter_for(Record(b'{"big": 1}'), "g", RuntimeError("x"), 5, "svc")
    broker = Broker(KafkaConnectionError(), MessageSizeTooLargeError())
    await publish_dead_letter(broker, letter)  # type: ignore[arg-type]
    ((sent, topic),) = broker.published
    assert topic == "hospital.encounters.v1.dlq"
    assert sent.payload == "" and sent.event_id == letter.event_id
    assert "payload of 10 bytes omitted" in sent.error
    assert "hospital.encounters.v1 partition 2 offset 40" in sent.error


def test_a_replay_marker_points_at_its_letter() -> None:
    letter = dead_letter_for(Record(b"{}"), "g", RuntimeError("x"), 5, "svc")
    marker = replay_marker(letter, "hospital.encounters.v1", "ensemble-dlq")
    assert marker.event_type == "dead_letter.replayed"
    assert marker.causation_id == letter.event_id and marker.event_id != letter.event_id
    assert marker.payload == "" and marker.producer == "ensemble-dlq"
