"""Settings come from the environment only; each service adds its own prefix."""

from pydantic_settings import BaseSettings, SettingsConfigDict

from ensemble_runtime.auth import parse_token_map


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str
    http_host: str = "127.0.0.1"
    http_port: int
    log_level: str = "INFO"
    log_json: bool = True
    # Outbox relay: poll this often when nothing woke it up.
    outbox_poll_seconds: float = 0.25
    outbox_batch_size: int = 500
    # Consumers: non-database errors are retried this many times before dead-lettering.
    consumer_max_attempts: int = 5
    consumer_retry_base_seconds: float = 0.2
    # Consumers apply up to this many polled events in one transaction. An idle poll waits
    # this long (and FastStream then sleeps as long again): it bounds the added latency.
    consumer_batch_size: int = 200
    consumer_batch_timeout_ms: int = 25
    topic_replication_factor: int = 1
    graceful_timeout_seconds: float = 15.0
    # Bearer tokens as JSON {"principal": "token"}; empty by default: no built-in secrets.
    # Every service has staff; services add `<kind>_tokens` fields for other callers.
    staff_tokens: str = "{}"

    def tokens(self, kind: str) -> dict[str, str]:
        """The `<kind>_tokens` setting as principal -> token."""
        return parse_token_map(getattr(self, f"{kind}_tokens"))
