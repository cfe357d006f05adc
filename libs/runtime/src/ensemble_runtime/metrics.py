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

# --- retention (retention.py) and ops (ops_metrics.py, http_metrics.py) -------------------------
TABLE_ROWS = Gauge(
    "ensemble_table_rows",
    "Rows in each table that retention prunes, counted every few minutes by the retention "
    "component (never on a scrape).",
    ["table"],
)
RETENTION_PRUNED = Counter(
    "ensemble_retention_pruned_rows_total",
    "Rows retention removed (outbox, inbox) or emptied of their content (hospital-feed's raw "
    "messages keep their metadata and ACK).",
    ["table"],
)
OUTBOX_BACKLOG = Gauge(
    "ensemble_outbox_backlog", "Outbox rows not yet published to Kafka (sampled periodically)."
)
OUTBOX_RELAY_LEADER = Gauge(
    "ensemble_outbox_relay_leader",
    "1 while this process relays its store's outbox (it holds the relay lock; always on "
    "SQLite), 0 while it stands by for the replica that does.",
)
OUTBOX_OLDEST_UNPUBLISHED_AGE = Gauge(
    "ensemble_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox row (0: none waiting). Alert when it grows: the "
    "relay is stuck or the broker refuses it.",
)
CONSUMER_LAG = Gauge(
    "ensemble_consumer_lag",
    "Events on a partition not yet committed by a consumer group: end offset minus committed "
    "offset (sampled periodically from the broker).",
    ["group", "topic", "partition"],
)
DEAD_LETTER_DEPTH = Gauge(
    "ensemble_dead_letter_depth",
    "Messages kept on a dead-letter topic (end minus beginning offsets; replay markers count "
    "too), for the topics this service consumes or publishes.",
    ["topic"],
)
OPS_SAMPLE_FAILURES = Counter(
    "ensemble_ops_sample_failures_total",
    "Periodic ops samples that failed (broker or store unreachable), by what was sampled.",
    ["sample"],
)
HTTP_REQUESTS = Counter(
    "ensemble_http_requests_total",
    "HTTP requests answered, by method, route template (never the raw path: paths carry NHS "
    "numbers) and status code.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "ensemble_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template "
    "(streams last as long as their client stays).",
    ["method", "route"],
)
