"""Dead letters: keep what could not be processed, with the error, and replay it later.

    ensemble-dlq list   --bootstrap HOST:PORT --topic hospital.encounters.v1.dlq
    ensemble-dlq replay --bootstrap HOST:PORT --topic hospital.encounters.v1.dlq [--event-id ID]

Replay republishes the original bytes to the source topic under the original key; the inbox
makes a replay of something that did succeed meanwhile harmless.
"""

import argparse
import asyncio
import base64
import sys
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime.logging import redact_text

log = structlog.get_logger(__name__)


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
        error=redact_text(str(error))[:2000],
        payload=payload,
        payload_encoding=encoding,
    )


async def publish_dead_letter(broker: KafkaBroker, letter: DeadLetter) -> None:
    """Publish, retrying until Kafka takes it: the source offset is committed only after."""
    delay = 0.5
    while True:
        try:
            await broker.publish(
                letter.model_dump_json().encode(),
                topic=f"{letter.source_topic}.dlq",
                key=letter.source_key.encode() if letter.source_key else None,
                headers={"event_type": "dead_letter"},
            )
            return
        except Exception as error:  # keep trying: losing the message is not an option
            log.warning("dead letter publish failed", error=type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)


async def read_dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    """Every dead letter on `topic` now, oldest first per partition (reads up to the end)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    letters: list[DeadLetter] = []
    if not partitions:
        return letters
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                letters.extend(DeadLetter.model_validate_json(r.value or b"") for r in records)
    finally:
        await consumer.stop()
    return letters


async def replay(bootstrap: str, topic: str, event_id: str | None) -> int:
    letters = [
        letter
        for letter in await read_dead_letters(bootstrap, topic)
        if event_id is None or str(letter.event_id) == event_id
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for letter in letters:
            value = (
                base64.b64decode(letter.payload)
                if letter.payload_encoding == "base64"
                else letter.payload.encode()
            )
            key = letter.source_key.encode() if letter.source_key else None
            await producer.send_and_wait(letter.source_topic, value=value, key=key)
    finally:
        await producer.stop()
    return len(letters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True, help="the dead-letter topic, e.g. X.dlq")
    parser.add_argument("--event-id", help="replay only this dead letter")
    args = parser.parse_args()
    if args.command == "list":
        for letter in asyncio.run(read_dead_letters(args.bootstrap, args.topic)):
            print(letter.model_dump_json(exclude={"payload"}))
    else:
        count = asyncio.run(replay(args.bootstrap, args.topic, args.event_id))
        print(f"replayed {count} message(s)", file=sys.stderr)
