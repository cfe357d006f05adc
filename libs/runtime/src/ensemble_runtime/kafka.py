"""Kafka plumbing: the FastStream broker and topic provisioning."""

import asyncio
import contextlib
import logging
from typing import Final

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from ensemble_contracts import TOPICS, Envelope, TopicSpec
from ensemble_runtime.kafka_security import PLAINTEXT, KafkaSecurity

log = structlog.get_logger(__name__)

# The broker's producer only sends dead letters, which carry the failed message and so can
# outgrow it: they are compressed, and the client lets the broker judge their size (the broker
# limits the compressed batch). Not idempotent: a batch the broker refuses would leave a gap in
# an idempotent producer's sequence and fail every later send (OutOfOrderSequenceNumber); a
# duplicate dead letter is harmless. Relay-parked letters go the same way (relay.py).
DEAD_LETTER_COMPRESSION: Final = "gzip"
DEAD_LETTER_MAX_REQUEST_BYTES = 16 * 1024 * 1024


def create_broker(
    bootstrap_servers: str,
    client_id: str,
    graceful_timeout: float,
    security: KafkaSecurity = PLAINTEXT,
) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        security=security.faststream(),
        enable_idempotence=False,
        acks="all",
        compression_type=DEAD_LETTER_COMPRESSION,
        max_request_size=DEAD_LETTER_MAX_REQUEST_BYTES,
        allow_auto_create_topics=False,
        graceful_timeout=graceful_timeout,
        # Per-message "Received/Processed" lines at DEBUG: our consumers log what matters.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str,
    specs: tuple[TopicSpec[Envelope], ...] = TOPICS,
    replication_factor: int = 1,
    wait_seconds: float = 120.0,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create missing topics with their declared partition counts; wait for the broker."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            await _create_missing(bootstrap_servers, specs, replication_factor, security)
            return
        except KafkaError as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("waiting for kafka", error=type(error).__name__)
            await asyncio.sleep(1)


async def _create_missing(
    bootstrap_servers: str,
    specs: tuple[TopicSpec[Envelope], ...],
    replication_factor: int,
    security: KafkaSecurity,
) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=10000,
        **security.client_options(),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(spec.name, spec.partitions, replication_factor)
            for spec in specs
            if spec.name not in existing
        ]
        if not missing:
            return
        with contextlib.suppress(TopicAlreadyExistsError):  # another service was first
            await admin.create_topics(missing)
        log.info("topics created", topics=[t.name for t in missing])
    finally:
        await admin.close()
