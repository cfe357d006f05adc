"""Reading dead letters back in Kafka tests (tolerant of other tests' records on shared DLQs)."""

from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from ensemble_contracts.dead_letter import DeadLetter


async def find_letters(
    bootstrap: str, topic: str, wanted: Callable[[DeadLetter], bool], count: int = 1
) -> list[DeadLetter]:
    """The first `count` dead letters on `topic` that `wanted` picks (waits up to 30 s)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    found: list[DeadLetter] = []
    await consumer.start()
    try:
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        letter = DeadLetter.model_validate_json(record.value or b"")
                    except ValidationError:
                        continue
                    if wanted(letter):
                        found.append(letter)
            if len(found) >= count:
                return found
    finally:
        await consumer.stop()
    raise AssertionError(f"{len(found)} of {count} dead letters arrived on {topic}")
