"""`ensemble-dlq` on the real broker: replay once, only to the DLQ's topic, skip the malformed."""

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from ensemble_contracts import TopicSpec
from ensemble_contracts.dead_letter import DeadLetter
from ensemble_contracts.hospital import EncounterEvent
from ensemble_runtime.dlq_cli import Selection, main, replay
from ensemble_runtime.kafka import ensure_topics

from ..support import encounter

pytestmark = pytest.mark.kafka
NHS = "9990000018"


@pytest.fixture
async def topic(kafka_bootstrap: str) -> TopicSpec[EncounterEvent]:
    """A private topic and DLQ: these tests put malformed records on the DLQ."""
    spec = TopicSpec(f"runtime-tests.dlq-{uuid4().hex[:8]}.v1", EncounterEvent, "t", "t")
    await ensure_topics(kafka_bootstrap, (spec, spec.dead_letter))
    return spec


def letter(topic: str, consumer: str, payload: str, **fields: object) -> DeadLetter:
    values: dict[str, object] = {
        "producer": "runtime-tests",
        "consumer": consumer,
        "source_topic": topic,
        "source_partition": 0,
        "source_offset": 0,
        "source_key": NHS,
        "failed_at": datetime.now(UTC),
        "attempts": 5,
        "error_type": "IntegrityError",
        "error": "IntegrityError (sqlite3.IntegrityError)",
        "payload": payload,
    }
    return DeadLetter.model_validate(values | fields)


async def put(bootstrap: str, topic: str, *values: bytes) -> list[tuple[int, int]]:
    """Send under the patient's key; where each landed (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sent = [await producer.send_and_wait(topic, v, key=NHS.encode()) for v in values]
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in sent]


async def read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        for _ in range(20):
            for records in (await consumer.getmany(timeout_ms=250)).values():
                values.extend(record.value or b"" for record in records)
            if len(values) >= count:
                await asyncio.sleep(0.5)
                for records in (await consumer.getmany(timeout_ms=250)).values():
                    values.extend(record.value or b"" for record in records)
                break
    finally:
        await consumer.stop()
    return values


async def test_replay_once_to_the_dlq_s_own_topic_skipping_what_it_cannot(
    kafka_bootstrap: str, topic: TopicSpec[EncounterEvent]
) -> None:
    dlq, names = topic.dead_letter.name, (topic.name,)
    first, second = encounter(NHS, 1), encounter(NHS, 2)
    newer = b"a newer event of the patient"
    ((partition, offset), _) = await put(
        kafka_bootstrap, topic.name, first.model_dump_json().encode(), newer
    )
    chosen = letter(
        topic.name,
        "group-a",
        first.model_dump_json(),
        source_partition=partition,
        source_offset=offset,
        causation_id=first.event_id,  # as consumers write it: the failed event's id
    )
    stray = letter("some.other.topic.v1", "group-b", second.model_dump_json())
    broken = letter(topic.name, "group-b", "@@not base64@@", payload_encoding="base64")
    empty = letter(topic.name, "group-b", "")
    await put(
        kafka_bootstrap,
        dlq,
        *(x.model_dump_json().encode() for x in (chosen, stray, broken, empty)),
        b"not json at all",
        b'{"event_type": "dead_letter"}',
    )

    by_consumer = await replay(kafka_bootstrap, dlq, Selection(consumer="group-a"), topics=names)
    assert len(by_consumer.replayed) == 1, by_consumer.lines()
    assert by_consumer.replayed[0].startswith(str(chosen.event_id))
    assert "after 1 later message(s) of that partition" in by_consumer.replayed[0]
    assert len(by_consumer.malformed) == 2  # reported, not fatal

    dry = await replay(kafka_bootstrap, dlq, Selection(), topics=names, dry_run=True)
    assert dry.replayed == [] and any("dry run" in line for line in dry.skipped)

    rest = await replay(kafka_bootstrap, dlq, Selection(), topics=names)
    assert [line.split(":")[0] for line in rest.replayed] == [str(stray.event_id)]
    assert "its source_topic 'some.other.topic.v1' was ignored" in rest.replayed[0]
    assert [line.split(":")[0] for line in rest.failed] == [str(broken.event_id)]
    skipped = "\n".join(rest.skipped)
    assert f"{chosen.event_id}: replayed before" in skipped
    assert f"{empty.event_id}: no payload kept" in skipped
    assert len(rest.malformed) == 2
    assert NHS not in "\n".join(rest.lines())

    again = await replay(kafka_bootstrap, dlq, Selection(), topics=names)
    assert again.replayed == []

    values = await read_all(kafka_bootstrap, topic.name, 4)
    replayed = [first.model_dump_json().encode(), second.model_dump_json().encode()]
    assert values == [replayed[0], newer, *replayed]

    # Selecting by the failed event's id works as well as by the letter's.
    forced = Selection(event_ids=frozenset({first.event_id}))
    assert len((await replay(kafka_bootstrap, dlq, forced, topics=names, again=True)).replayed) == 1


def test_the_cli_lists_without_payloads_or_keys(
    kafka_bootstrap: str, topic: TopicSpec[EncounterEvent], capsys: pytest.CaptureFixture[str]
) -> None:
    one = letter(topic.name, "group-a", encounter(NHS, 1).model_dump_json())
    asyncio.run(put(kafka_bootstrap, topic.dead_letter.name, one.model_dump_json().encode(), b"?"))
    args = ["--topic", topic.dead_letter.name, "--bootstrap", kafka_bootstrap]
    assert main(["list", *args]) == 0
    out, err = capsys.readouterr()
    (line,) = [json.loads(line) for line in out.splitlines()]
    assert line["letter"]["event_id"] == str(one.event_id) and line["replayed"] is False
    assert NHS not in out and "payload" not in line["letter"]
    assert "malformed record skipped at 0/1" in err
    assert main(["replay", *args]) == 2  # no filter: refused
    assert "needs a filter" in capsys.readouterr().err
    assert main(["replay", "--topic", "hospital.encounters.v1", "--all-pending"]) == 2
    assert "not a dead-letter topic" in capsys.readouterr().err
