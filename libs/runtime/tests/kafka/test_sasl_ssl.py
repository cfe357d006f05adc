"""Every Kafka client of a service over SASL_SSL: topics, relay, consumers, dead letters, CLI."""

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.dlq_cli import Selection, main, read, replay
from ensemble_runtime.kafka_security import KafkaSecurity
from ensemble_runtime.service import build_service

from ..support import (
    FAILING,
    FAILING_SEQUENCE,
    RuntimeTestUnitOfWork,
    definition,
    encounter,
    settings,
    wait_for_seen,
)

pytestmark = pytest.mark.kafka
DLQ = HOSPITAL_ENCOUNTERS.dead_letter.name


def security_of(client: dict[str, str]) -> KafkaSecurity:
    return KafkaSecurity(
        "SASL_SSL",
        "PLAIN",
        client["KAFKA_SASL_USERNAME"],
        client["KAFKA_SASL_PASSWORD"],
        client["KAFKA_SSL_CAFILE"],
    )


async def test_a_service_runs_over_sasl_ssl(
    tmp_path: Path, sasl_ssl_client: dict[str, str]
) -> None:
    bootstrap = sasl_ssl_client["KAFKA_BOOTSTRAP_SERVERS"]
    service = build_service(
        definition(),
        settings(
            f"sqlite:///{tmp_path / 'store.db'}",
            bootstrap,
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username=sasl_ssl_client["KAFKA_SASL_USERNAME"],
            kafka_sasl_password=sasl_ssl_client["KAFKA_SASL_PASSWORD"],
            kafka_ssl_cafile=sasl_ssl_client["KAFKA_SSL_CAFILE"],
        ),
    )
    runtime = service.runtime
    await runtime.start()  # topics created over SASL_SSL
    correlation = uuid4()
    try:

        def stage(uow: RuntimeTestUnitOfWork) -> None:
            for sequence in (1, FAILING_SEQUENCE, 2):
                uow.publish(HOSPITAL_ENCOUNTERS, encounter("9990000018", sequence, correlation))
            uow.commit()

        await runtime.transact(stage)  # relay -> Kafka -> consumer -> dead letter, all SASL_SSL
        rows = await wait_for_seen(runtime, correlation, 2)
        assert [row.sequence for row in rows] == [1, 2]

        security = security_of(sasl_ssl_client)
        for _ in range(60):
            letters = [s.letter for s in (await read(bootstrap, DLQ, security)).letters]
            mine = [letter for letter in letters if letter.correlation_id == correlation]
            if mine:
                break
            await asyncio.sleep(0.5)
        (letter,) = mine
        FAILING.discard(FAILING_SEQUENCE)
        try:
            chosen = Selection(event_ids=frozenset({letter.event_id}))
            report = await replay(bootstrap, DLQ, chosen, security)
            assert len(report.replayed) == 1, report.lines()
            rows = await wait_for_seen(runtime, correlation, 3)
        finally:
            FAILING.add(FAILING_SEQUENCE)
        assert [row.sequence for row in rows] == [1, 2, FAILING_SEQUENCE]
    finally:
        await runtime.stop()
        service.engine.dispose()


def test_the_cli_connects_with_the_password_from_the_environment(
    sasl_ssl_client: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM"):
        monkeypatch.setenv(name, sasl_ssl_client[name])
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", sasl_ssl_client["KAFKA_SASL_PASSWORD"])
    args = ["list", "--topic", DLQ, "--all"]
    args += ["--sasl-username", sasl_ssl_client["KAFKA_SASL_USERNAME"]]
    args += ["--ssl-cafile", sasl_ssl_client["KAFKA_SSL_CAFILE"]]
    assert main(args) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):  # there is no option to put a password on a command line
        main([*args, "--sasl-password", "x"])


async def test_wrong_credentials_and_plaintext_are_refused(sasl_ssl_client: dict[str, str]) -> None:
    bootstrap = sasl_ssl_client["KAFKA_BOOTSTRAP_SERVERS"]
    good = security_of(sasl_ssl_client)
    wrong = KafkaSecurity(
        "SASL_SSL", "PLAIN", good.sasl_username, "not-the-password", good.ssl_cafile
    )
    for options in (wrong.client_options(), {"security_protocol": "PLAINTEXT"}):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **options)
        with pytest.raises((KafkaConnectionError, asyncio.TimeoutError)):
            await asyncio.wait_for(producer.start(), 20)
        await producer.stop()
