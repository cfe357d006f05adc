"""Prometheus metrics shared by every service (each process has its own registry)."""

from prometheus_client import Counter, Histogram

EVENTS_CONSUMED = Counter(
    "ensemble_events_consumed_total",
    "Events taken from Kafka, by outcome (processed, duplicate, ignored, dead_lettered).",
    ["topic", "consumer", "outcome"],
)
EVENT_PROCESSING = Histogram(
    "ensemble_event_processing_seconds",
    "Time from receiving an event to committing its effects.",
    ["topic", "consumer"],
)
OUTBOX_PUBLISHED = Counter(
    "ensemble_outbox_published_total", "Outbox events acknowledged by Kafka.", ["topic"]
)
CONSUMER_RETRIES = Counter(
    "ensemble_consumer_retries_total", "Failed processing attempts that will be retried.", ["topic"]
)
