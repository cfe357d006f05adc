"""`ensemble dlq` and `ensemble lag` on the real broker, through the CLI as an operator runs it
(settings from the environment, JSON out), on private topics of a service defined here."""

import asyncio
import json
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner

from ensemble_contracts import TopicSpec
from ensemble_contracts.hospital import EncounterEvent
from ensemble_runtime.definition import ServiceDefinition, Subscription
from ensemble_runtime.kafka import ensure_topics
from ensemble_runtime.ops_cli import Registry, build_app

from ..support import MIGRATIONS, RuntimeTestSettings, RuntimeTestUnitOfWork, encounter
from .test_dlq_cli import NHS, letter, put, read_all

pytestmark = pytest.mark.kafka
runner = CliRunner()


def private_topic() -> TopicSpec[EncounterEvent]:
    return TopicSpec(f"runtime-tests.cli-{uuid4().hex[:8]}.v1", EncounterEvent, "t", "t")


def service(spec: TopicSpec[EncounterEvent], *groups: str) -> Registry:
    definition = ServiceDefinition(
        name="runtime-tests",
        title="Runtime tests",
        settings=RuntimeTestSettings,
        unit_of_work=RuntimeTestUnitOfWork,
        migrations=MIGRATIONS,
        publishes=[spec],
        subscriptions=[Subscription(topic=spec, group=group, handlers={}) for group in groups],
    )
    return Registry.of([definition])


def ensemble(registry: Registry, bootstrap: str, *args: str) -> tuple[int, Any, str]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DATABASE_URL": "sqlite://"}
    result = runner.invoke(build_app(registry), list(args), env=env)
    out = json.loads(result.stdout) if "--json" in args and result.stdout else result.stdout
    return result.exit_code, out, result.stderr


def test_list_show_discard_replay_a_service_s_own_letters(kafka_bootstrap: str) -> None:
    spec = private_topic()
    dlq, group = spec.dead_letter.name, "runtime-tests.cli-group"
    registry = service(spec, group)
    first, second = encounter(NHS, 1), encounter(NHS, 2)
    asyncio.run(ensure_topics(kafka_bootstrap, (spec, spec.dead_letter)))
    ((partition, offset),) = asyncio.run(
        put(kafka_bootstrap, spec.name, first.model_dump_json().encode())
    )
    ours = letter(
        spec.name,
        group,
        first.model_dump_json(),
        source_partition=partition,
        source_offset=offset,
        causation_id=first.event_id,
    )
    bad_data = letter(spec.name, group, second.model_dump_json(), causation_id=second.event_id)
    theirs = letter(spec.name, "another-service.group", second.model_dump_json())
    letters = (ours, bad_data, theirs)
    asyncio.run(put(kafka_bootstrap, dlq, *(x.model_dump_json().encode() for x in letters)))

    code, listed, _ = ensemble(registry, kafka_bootstrap, "dlq", "list", "--json")
    assert code == 0
    ids = [entry["letter"]["event_id"] for entry in listed["letters"]]
    assert ids == [str(ours.event_id), str(bad_data.event_id)]  # not another service's
    assert NHS not in json.dumps(listed)  # no payload, no key
    assert {entry["topic"] for entry in listed["letters"]} == {dlq}

    code, shown, _ = ensemble(
        registry, kafka_bootstrap, "dlq", "show", str(first.event_id), "--json"
    )
    assert code == 0
    assert shown["letter"]["event_id"] == str(ours.event_id)  # found by the failed event's id
    assert (shown["replayed"], shown["discarded"]) == (False, False)
    assert shown["payload_bytes"] == len(first.model_dump_json().encode())

    code, done, _ = ensemble(
        registry,
        kafka_bootstrap,
        "dlq",
        "discard",
        "--event-id",
        str(bad_data.event_id),
        "--reason",
        "test data, never to be replayed",
        "--json",
    )
    assert code == 0
    assert done["discarded"] == [
        f"{dlq} {bad_data.event_id}: discarded: test data, never to be replayed"
    ]

    code, done, err = ensemble(
        registry, kafka_bootstrap, "dlq", "replay", "--all-pending", "--json"
    )
    assert code == 0, done
    assert f"replaying {dlq}" in err and "1/1" in err  # the progress bar, on stderr
    assert [line.split(":")[0] for line in done["replayed"]] == [f"{dlq} {ours.event_id}"]
    assert done["skipped"] == [f"{dlq} {bad_data.event_id}: discarded"]  # theirs: untouched
    on_topic = asyncio.run(read_all(kafka_bootstrap, spec.name, 2))
    assert on_topic.count(first.model_dump_json().encode()) == 2  # the original and the replay
    assert second.model_dump_json().encode() not in on_topic

    code, listed, _ = ensemble(registry, kafka_bootstrap, "dlq", "list", "--json")
    assert (code, listed["letters"]) == (0, [])
    code, text, _ = ensemble(registry, kafka_bootstrap, "dlq", "list", "--all")
    assert code == 0
    assert "2 dead letter(s)" in text and "replayed" in text and "discarded" in text

    code, done, _ = ensemble(registry, kafka_bootstrap, "dlq", "replay", "--all-pending", "--json")
    assert code == 0
    assert done["replayed"] == [] and len(done["skipped"]) == 2  # once each, and discarded


def test_an_unknown_dead_letter_id_is_one_line_and_exit_2(kafka_bootstrap: str) -> None:
    spec = private_topic()
    registry = service(spec, "runtime-tests.cli-group")
    asyncio.run(ensure_topics(kafka_bootstrap, (spec, spec.dead_letter)))
    theirs = letter(spec.name, "another-service.group", encounter(NHS, 1).model_dump_json())
    asyncio.run(put(kafka_bootstrap, spec.dead_letter.name, theirs.model_dump_json().encode()))
    nobody = str(uuid4())
    expected = f"ensemble: no dead letter {nobody} of runtime-tests on {spec.dead_letter.name}"
    for command in (
        ["show", nobody],
        ["replay", "--event-id", nobody],
        ["discard", "--event-id", nobody, "--reason", "r"],
    ):
        code, _, err = ensemble(registry, kafka_bootstrap, "dlq", *command)
        assert (code, err.strip()) == (2, expected)
    # Another service's letter is not this service's to replay.
    code, _, err = ensemble(
        registry, kafka_bootstrap, "dlq", "replay", "--event-id", str(theirs.event_id)
    )
    assert code == 2 and "no dead letter" in err


def test_lag_per_group_and_partition(kafka_bootstrap: str) -> None:
    spec = private_topic()
    behind, fresh = "runtime-tests.cli-behind", "runtime-tests.cli-fresh"
    registry = service(spec, behind, fresh)
    asyncio.run(ensure_topics(kafka_bootstrap, (spec, spec.dead_letter)))
    sent = asyncio.run(put(kafka_bootstrap, spec.name, b"one", b"two", b"three"))
    partition = sent[0][0]  # one key: one partition

    async def commit(group: str, offset: int) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            tp = TopicPartition(spec.name, partition)
            consumer.assign([tp])
            await consumer.commit({tp: offset})
        finally:
            await consumer.stop()

    asyncio.run(commit(behind, sent[0][1] + 1))  # it has handled the first message

    code, shown, _ = ensemble(registry, kafka_bootstrap, "lag", "--json")
    assert code == 0
    assert shown["groups"] == {behind: 2, fresh: 3}  # never committed: from the beginning
    rows = {(row["group"], row["partition"]): row["lag"] for row in shown["partitions"]}
    assert len(rows) == 2 * spec.partitions  # every partition of every group
    assert rows[(behind, partition)] == 2 and rows[(fresh, partition)] == 3
    assert sum(rows.values()) == 5

    code, shown, _ = ensemble(registry, kafka_bootstrap, "lag", "--group", behind, "--json")
    assert (code, shown["groups"]) == (0, {behind: 2})
    code, text, _ = ensemble(registry, kafka_bootstrap, "lag")
    assert code == 0 and "consumer lag (5 in all)" in text
