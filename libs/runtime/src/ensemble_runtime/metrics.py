"""Prometheus metrics shared by every service (each process has its own registry)."""

from prometheus_client import Counter, Gauge, Histogram

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
OUTBOX_PARKED = Counter(
    "ensemble_outbox_parked_total",
    "Outbox events Kafka refused for good, moved to their topic's dead-letter topic.",
    ["topic"],
)
CONSUMER_STORE_RETRIES = Counter(
    "ensemble_consumer_store_retries_total",
    "Batches or events retried because the store failed transiently (outage, deadlock, busy).",
    ["topic", "consumer"],
)
CONSUMER_STORE_RETRYING = Gauge(
    "ensemble_consumer_store_retrying",
    "Consecutive transient store failures a consumer is waiting out now (0: flowing). "
    "Alert when above 0 for minutes: the consumer is blocked on its store.",
    ["topic", "consumer"],
)
GROUP_COMMIT_SIZE = Histogram(
    "ensemble_group_commit_size",
    "Commands committed together in one transaction (see group_commit.py).",
    ["command"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
GROUP_COMMIT_REFUSED = Counter(
    "ensemble_group_commit_refused_total",
    "Commands refused because too many were waiting for the store (HTTP 503, MLLP waits).",
    ["command"],
)
