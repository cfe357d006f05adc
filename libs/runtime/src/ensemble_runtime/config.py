"""Settings come from the environment only; each service adds its own prefix."""

import os

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ensemble_runtime.auth import parse_token_map
from ensemble_runtime.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Kafka transport security (see kafka_security.py): PLAINTEXT only on a trusted host.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    database_url: str
    http_host: str = "127.0.0.1"
    http_port: int
    http_max_concurrency: int = 2000  # connections + requests in progress; more get 503
    log_level: str = "INFO"
    log_json: bool = True
    # Outbox relay: poll this often when nothing woke it up.
    outbox_poll_seconds: float = 0.25
    outbox_batch_size: int = 500
    # Consumers: non-database errors are retried this many times before dead-lettering.
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    # The longest wait between retries (a store outage is retried for ever at this pace).
    consumer_retry_max_seconds: float = 5.0
    # Consumers apply up to this many polled events in one transaction. A poll returns as
    # soon as events arrive, but after an empty poll FastStream sleeps this long: it bounds
    # the latency an idle consumer adds (10 ms: about 50 idle wake-ups a second).
    consumer_batch_size: int = 200
    consumer_batch_timeout_ms: int = 10
    # Group commit (group_commit.py): commands per transaction, and how many may wait for
    # the store before more are refused (HTTP 503 + Retry-After; MLLP stops reading).
    group_commit_max: int = 64
    group_commit_max_waiting: int = 1000
    topic_replication_factor: int = 1
    graceful_timeout_seconds: float = 15.0
    # Retention (retention.py): a sweep this often prunes, in batches of this many rows (each
    # its own short transaction), published outbox rows and inbox rows older than their age;
    # 0 hours keeps that table for ever, `retention_enabled=false` prunes nothing. The inbox
    # must outlive what Kafka can redeliver: it is checked at start against the broker's
    # retention of each consumed topic plus its dead-letter topic (a replay republishes).
    retention_enabled: bool = True
    retention_sweep_seconds: float = 3600.0
    retention_batch_size: int = 500
    retention_count_seconds: float = 300.0  # how often `ensemble_table_rows` is counted
    outbox_retention_hours: float = 168.0
    inbox_retention_hours: float = 504.0  # 21 days > 7 days of topic + 7 days of DLQ
    # Ops metrics (ops_metrics.py): outbox backlog, consumer lag and DLQ depth, sampled.
    ops_sample_seconds: float = 15.0
    # OpenTelemetry traces (tracing.py): the OTLP/HTTP collector's base URL, e.g.
    # http://collector:4318 (spans go to its /v1/traces). Unset: the standard
    # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (full URL) or OTEL_EXPORTER_OTLP_ENDPOINT (base URL);
    # none of them, or OTEL_SDK_DISABLED=true: tracing off (no spans, no exporter). An
    # unreachable collector only warns; serving goes on.
    tracing_otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s/]+")
    # Bearer tokens as JSON {"principal": "token"}; empty by default: no built-in secrets.
    # Every service has staff; services add `<kind>_tokens` fields for other callers.
    staff_tokens: str = "{}"

    def kafka_security(self) -> KafkaSecurity:
        """Validated when the runtime is built: half a configuration refuses to start.

        (Not a pydantic validator: its error would echo every setting, secrets included.)
        """
        password = self.kafka_sasl_password
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=password.get_secret_value() if password is not None else None,
            ssl_cafile=self.kafka_ssl_cafile,
        )

    def otlp_traces_endpoint(self) -> str | None:
        """The full URL spans are exported to, or None: tracing off."""
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        if self.tracing_otlp_endpoint:
            return f"{self.tracing_otlp_endpoint.rstrip('/')}/v1/traces"
        if full := os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip():
            return full
        if base := os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
            return f"{base.rstrip('/')}/v1/traces"
        return None

    def caller_tokens(self) -> dict[str, dict[str, str]]:
        """Every `<kind>_tokens` setting, as kind -> principal -> token (validated)."""
        return {
            name.removesuffix("_tokens"): parse_token_map(
                getattr(self, name), f"{self.model_config.get('env_prefix', '')}{name}".upper()
            )
            for name in type(self).model_fields
            if name.endswith("_tokens")
        }
