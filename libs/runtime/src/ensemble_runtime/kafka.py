"""Kafka plumbing: the FastStream broker and topic provisioning."""

import asyncio
import contextlib
import logging

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from ensemble_contracts import TOPICS, TopicSpec

log = structlog.get_logger(__name__)


def create_broker(bootstrap_servers: str, client_id: str, graceful_timeout: float) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        allow_auto_create_topics=False,
        graceful_timeout=graceful_timeout,
        # Per-message "Received/Processed" lines at DEBUG: our consumers log what matters.
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str,
    specs: tuple[TopicSpec, ...] = TOPICS,
    replication_factor: int = 1,
    wait_seconds: float = 120.0,
) -> None:
    """Create missing topics with their declared partition counts; wait for the broker."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            await _create_missing(bootstrap_servers, specs, replication_factor)
            return
        except KafkaError as error:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.info("waiting for kafka", error=type(error).__name__)
            await asyncio.sleep(1)


async def _create_missing(
    bootstrap_servers: str, specs: tuple[TopicSpec, ...], replication_factor: int
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000)
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
