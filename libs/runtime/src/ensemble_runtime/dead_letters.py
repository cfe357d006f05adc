"""Dead letters: what could not be processed or published, kept on `<topic>.dlq` with the error.

Two writers: a consumer group that gives up on a message (`dead_letter_for`), and the outbox
relay when Kafka refuses a row for good (`parked_letter`; source partition and offset -1: it
never reached its topic). Error texts are built by `errors.describe_error`: no SQL parameters,
no values. A letter's `causation_id` is the failed event's id, when the payload has one.

A letter may outgrow Kafka's limit (it carries the message and more); it is then sent without
its payload, and its error text says where the original is. `ensemble dlq` (ops_cli/, on
dlq_cli.py) lists, replays and discards letters; a replay or discard is recorded by a
`dead_letter.replayed` / `dead_letter.discarded` marker on the same topic, keyed by the
letter's id.
"""

import asyncio
import base64
import contextlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import structlog
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime.errors import describe_error, is_refused_for_good
from ensemble_runtime.logging import redact_text

log = structlog.get_logger(__name__)

LETTER = "dead_letter"
REPLAYED = "dead_letter.replayed"
DISCARDED = "dead_letter.discarded"  # an operator gave up on the letter (ensemble dlq discard)
RELAY = "outbox-relay"  # the `consumer` of letters the relay parked


def dead_letter_for(
    record: "ConsumerRecord[bytes, bytes]",
    consumer: str,
    error: BaseException | str,
    attempts: int,
    producer: str,
) -> DeadLetter:
    try:
        payload, encoding = (record.value or b"").decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(record.value or b"").decode(), "base64"
    return DeadLetter(
        producer=producer,
        consumer=consumer,
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        source_key=record.key.decode("utf-8", "replace") if record.key else None,
        failed_at=datetime.now(UTC),
        attempts=attempts,
        # A string error is a validation summary; an exception is named by its class.
        error_type="ValidationError" if isinstance(error, str) else type(error).__name__,
        error=redact_text(error)[:2000] if isinstance(error, str) else describe_error(error),
        payload=payload,
        payload_encoding=encoding,
        **_origin(payload if encoding == "utf-8" else ""),
    )


def parked_letter(
    producer: str,
    topic: str,
    key: str | None,
    payload: str,
    error: BaseException,
    row_id: int | None = None,
) -> DeadLetter:
    """The letter for an outbox row Kafka refused for good (see relay.py)."""
    where = f"outbox row {row_id}" if row_id is not None else "the outbox"
    return DeadLetter(
        producer=producer,
        consumer=RELAY,
        source_topic=topic,
        source_partition=-1,
        source_offset=-1,
        source_key=key,
        failed_at=datetime.now(UTC),
        attempts=1,
        error_type=type(error).__name__,
        error=f"{describe_error(error)} (refused by Kafka, parked from {where})",
        payload=payload,
        **_origin(payload),
    )


def without_payload(letter: DeadLetter) -> DeadLetter:
    """The letter minus its payload, for when even compressed it is too large for Kafka."""
    if letter.source_offset >= 0:
        where = f"{letter.source_topic} partition {letter.source_partition} offset "
        where += f"{letter.source_offset}, while the topic retains it"
    else:
        where = "the producer's outbox table, until pruned"
    size = len(letter.payload.encode())
    error = f"{letter.error}; payload of {size} bytes omitted (too large): it is in {where}"
    return letter.model_copy(update={"payload": "", "error": error})


def replay_marker(letter: DeadLetter, topic: str, by: str) -> DeadLetter:
    """Marks `letter` as replayed to `topic`: a small letter of its own, on the same DLQ."""
    return letter.model_copy(
        update={
            "event_type": REPLAYED,
            "event_id": uuid4(),
            "causation_id": letter.event_id,
            "occurred_at": datetime.now(UTC),
            "producer": by,
            "error": f"replayed to {topic}",
            "payload": "",
            "payload_encoding": "utf-8",
        }
    )


def discard_marker(letter: DeadLetter, reason: str, by: str) -> DeadLetter:
    """Marks `letter` as discarded (kept by Kafka, no longer listed or replayed), with why."""
    return replay_marker(letter, "nowhere", by).model_copy(
        update={"event_type": DISCARDED, "error": f"discarded: {redact_text(reason)[:500]}"}
    )


def _origin(payload: str) -> dict[str, Any]:
    """The failed event's id (as causation) and correlation, if the payload is an event."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        return {}
    origin: dict[str, Any] = {}
    for field, name in (("event_id", "causation_id"), ("correlation_id", "correlation_id")):
        with contextlib.suppress(ValueError, TypeError, KeyError, IndexError):
            origin[name] = UUID(str(event[field]))
    return origin


def letter_bytes(letter: DeadLetter) -> bytes:
    return letter.model_dump_json().encode()


async def publish_dead_letter(broker: KafkaBroker, letter: DeadLetter) -> None:
    """Publish, retrying until Kafka takes it: the source offset is committed only after.

    A letter Kafka refuses for what it is (too large even compressed) goes without payload.
    """
    delay = 0.5
    while True:
        try:
            await broker.publish(
                letter_bytes(letter),
                topic=f"{letter.source_topic}.dlq",
                key=letter.source_key.encode() if letter.source_key else None,
                headers={"event_type": letter.event_type},
            )
            return
        except Exception as error:  # keep trying: losing the message is not an option
            if letter.payload and is_refused_for_good(error):
                log.error(
                    "dead letter refused, sending it without payload", error=describe_error(error)
                )
                letter = without_payload(letter)
                continue
            log.warning("dead letter publish failed", error=type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
