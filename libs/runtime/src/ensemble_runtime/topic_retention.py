"""What the broker keeps of each topic, and the rule the inbox's retention must follow.

The inbox drops a redelivered event only while it still holds the event's row. Kafka can
deliver an event again as long as the topic keeps it, and `ensemble-dlq replay` republishes
a dead letter as long as the `.dlq` keeps it, which can be a topic retention after the
original. So the inbox must keep a row longer than the two together (retention.py checks it
at start against the broker's own `retention.ms`).
"""

from collections.abc import Iterable, Mapping
from datetime import timedelta

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from ensemble_runtime.kafka_security import PLAINTEXT, KafkaSecurity

Retentions = Mapping[str, timedelta | None]  # topic -> what the broker keeps (None: for ever)


def check_inbox_outlives_topics(
    inbox_age: timedelta | None,
    consumed: Iterable[str],
    retentions: Retentions,
    setting: str = "INBOX_RETENTION_HOURS",
) -> None:
    """Refuse an inbox age that a redelivery could outlast: for each consumed topic, its own
    retention plus its dead-letter topic's (a replay republishes a letter that old)."""
    if inbox_age is None:
        return
    for topic in consumed:
        kept = [retentions.get(topic), retentions.get(f"{topic}.dlq")]
        if any(age is None for age in kept):
            raise ValueError(
                f"{setting}: topic {topic} (or its .dlq) keeps events for ever, "
                "so no inbox row may be pruned; set it to 0"
            )
        redeliverable = sum((age for age in kept if age is not None), timedelta())
        if inbox_age <= redeliverable:
            raise ValueError(
                f"{setting} ({inbox_age.total_seconds() / 3600:g}) must exceed what "
                f"{topic} and its .dlq keep together ({redeliverable.total_seconds() / 3600:g} "
                "hours): an older redelivered event would slip past the dedupe"
            )


async def topic_retentions(
    bootstrap_servers: str, topics: Iterable[str], security: KafkaSecurity = PLAINTEXT
) -> dict[str, timedelta | None]:
    """Each topic's `retention.ms` as the broker has it (None: -1, kept for ever)."""
    names = sorted(set(topics))
    if not names:
        return {}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=10000, **security.client_options()
    )
    await admin.start()
    try:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, name, configs={"retention.ms": None})
            for name in names
        ]
        responses = await admin.describe_configs(resources)
    finally:
        await admin.close()
    found: dict[str, timedelta | None] = {}
    for response in responses:
        for resource in response.resources:
            error_code, _message, _type, name, entries = resource[:5]
            if error_code:
                raise RuntimeError(f"the broker did not describe topic {name} (error {error_code})")
            for entry in entries:
                if entry[0] == "retention.ms":
                    kept_ms = int(entry[1])
                    found[name] = timedelta(milliseconds=kept_ms) if kept_ms >= 0 else None
    missing = [name for name in names if name not in found]
    if missing:
        raise RuntimeError(f"the broker gave no retention.ms for {', '.join(missing)}")
    return found
