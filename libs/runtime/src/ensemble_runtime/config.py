"""Settings come from the environment (and secret files); each service adds its own prefix.

Each field's docstring is its description in the generated table (docs/settings.md,
`ensemble-docs`). A secret field (`json_schema_extra=SECRET_FIELD`) may come from a file
instead: `P_X_FILE` names it (secrets.py); token and database password files are re-read while
the service runs.
"""

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ensemble_runtime.auth import FileTokenRegistry, TokenRegistry, parse_token_map
from ensemble_runtime.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol
from ensemble_runtime.secrets import SECRET, SecretFile, SecretFileSource, non_empty, secret_paths

SECRET_FIELD: dict[str, Any] = {SECRET: True}
T = TypeVar("T")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", use_attribute_docstrings=True)

    service_name: str
    """The service's name: its Kafka client id, consumer group prefix and log field."""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    """Kafka brokers to bootstrap from, comma-separated host:port."""
    # Kafka transport security (see kafka_security.py): PLAINTEXT only on a trusted host.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    """Kafka transport: PLAINTEXT (a trusted host only), SSL, SASL_PLAINTEXT or SASL_SSL."""
    kafka_sasl_mechanism: SaslMechanism | None = None
    """SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) when the protocol uses SASL."""
    kafka_sasl_username: str | None = None
    """SASL user name."""
    kafka_sasl_password: SecretStr | None = Field(default=None, json_schema_extra=SECRET_FIELD)
    """SASL password (read at start)."""
    kafka_ssl_cafile: str | None = None
    """CA certificate file that signed the brokers' certificates (SSL, SASL_SSL)."""
    database_url: str
    """SQLAlchemy URL of the service's own store: sqlite:///file.db or
    postgresql+psycopg://user@host/db.
    """
    database_password: SecretStr | None = Field(default=None, json_schema_extra=SECRET_FIELD)
    """PostgreSQL password, instead of the URL's; from a file it is re-read for each new connection
    (pooled connections keep theirs).
    """
    http_host: str = "127.0.0.1"
    """Address the HTTP server listens on (0.0.0.0 in a container)."""
    http_port: int
    """Port of the HTTP server (API, /healthz, /readyz, /metrics)."""
    http_max_concurrency: int = 2000  # connections + requests in progress; more get 503
    """Connections plus requests in progress before the server answers 503 at once."""
    log_level: str = "INFO"
    """Log level: DEBUG, INFO, WARNING or ERROR."""
    log_json: bool = True
    """JSON log lines (false: console format, for a terminal)."""
    # Outbox relay: poll this often when nothing woke it up.
    outbox_poll_seconds: float = 0.25
    """How often the outbox relay looks for unpublished rows when nothing woke it."""
    outbox_batch_size: int = 500
    """Outbox rows the relay publishes per batch."""
    # Consumers: non-database errors are retried this many times before dead-lettering.
    consumer_max_attempts: int = 5
    """Attempts at an event failing with a non-database error before it is dead-lettered."""
    consumer_retry_base_seconds: float = 0.2
    """First wait between a consumer's retries (doubling each time)."""
    # The longest wait between retries (a store outage is retried for ever at this pace).
    consumer_retry_max_seconds: float = 5.0
    """Longest wait between a consumer's retries (a store outage is retried at this pace)."""
    # Consumers apply up to this many polled events in one transaction. A poll returns as
    # soon as events arrive; an idle consumer's poll waits this long before it asks again
    # (consumer.LongPollBatchSubscriber), so it bounds the wake-ups, not the latency.
    consumer_batch_size: int = 200
    """Polled events a consumer applies in one transaction, at most."""
    consumer_poll_timeout_ms: int = Field(default=1000, gt=0)
    """How long an idle consumer's poll waits for events (it returns as soon as one comes)."""
    # Group commit (group_commit.py): commands per transaction, and how many may wait for
    # the store before more are refused (HTTP 503 + Retry-After; MLLP stops reading).
    group_commit_max: int = 64
    """Commands that share one transaction under group commit, at most."""
    group_commit_max_waiting: int = 1000
    """Commands waiting for the store before more are refused (HTTP 503 + Retry-After; MLLP stops
    reading).
    """
    topic_replication_factor: int = 1
    """Replication factor of the topics the service creates at start."""
    graceful_timeout_seconds: float = 15.0
    """How long the web server, then the broker, drain in-flight work at shutdown."""
    # Retention (retention.py): a sweep this often prunes, in batches of this many rows (each
    # its own short transaction), published outbox rows and inbox rows older than their age;
    # 0 hours keeps that table for ever, `retention_enabled=false` prunes nothing. The inbox
    # must outlive what Kafka can redeliver: it is checked at start against the broker's
    # retention of each consumed topic plus its dead-letter topic (a replay republishes).
    retention_enabled: bool = True
    """Prune published outbox rows and old inbox rows (false: keep everything)."""
    retention_sweep_seconds: float = 3600.0
    """How often the retention sweep runs."""
    retention_batch_size: int = 500
    """Rows pruned per retention transaction."""
    retention_count_seconds: float = 300.0  # how often `ensemble_table_rows` is counted
    """How often the rows of each table are counted (ensemble_table_rows)."""
    outbox_retention_hours: float = 168.0
    """Age after which published outbox rows are pruned (0: kept for ever)."""
    inbox_retention_hours: float = 504.0  # 21 days > 7 days of topic + 7 days of DLQ
    """Age after which inbox rows are pruned (0: kept for ever); must outlive the topic's and its
    DLQ's retention (checked at start).
    """
    # Ops metrics (ops_metrics.py): outbox backlog, consumer lag and DLQ depth, sampled.
    ops_sample_seconds: float = 15.0
    """How often outbox backlog, consumer lag and dead-letter depth are sampled."""
    tracing_otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s/]+")
    """OpenTelemetry: the OTLP/HTTP collector's base URL, e.g. http://collector:4318 (spans go to
    its /v1/traces). Unset: the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (full URL) or
    OTEL_EXPORTER_OTLP_ENDPOINT (base URL); none of them, or OTEL_SDK_DISABLED=true: tracing off
    (no spans, no exporter). An unreachable collector only warns; serving goes on.
    """
    # Bearer tokens as JSON {"principal": "token"}; empty by default: no built-in secrets.
    # Every service has staff; services add `<kind>_tokens` fields for other callers.
    staff_tokens: str = Field(default="{}", json_schema_extra=SECRET_FIELD)
    """Staff bearer tokens, JSON {"principal": "token"} (16+ characters each); from a file they are
    re-read while the service runs.
    """
    secret_reload_seconds: float = Field(default=2.0, ge=0)
    """How often a secret file (P_X_FILE) is read again for a changed content (0: on every use)."""
    # One registry per caller kind, made once: the runtime's auth and `caller_tokens` share
    # the same files, so both see a rotation.
    _registries: dict[str, TokenRegistry] | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """A secret's file (`P_X_FILE`) wins over its env var (`P_X`)."""
        file_source = SecretFileSource(settings_cls)
        return init_settings, file_source, env_settings, dotenv_settings, file_secret_settings

    def secret_file(self, name: str, parse: Callable[[str], T]) -> SecretFile[T] | None:
        """The file of secret setting `name`, re-read while the service runs, when its
        `P_X_FILE` env var names one; else None (the setting's value is fixed)."""
        found = secret_paths(type(self)).get(name)
        if found is None:
            return None
        variable, path = found
        return SecretFile(path, variable, parse, self.secret_reload_seconds)

    def database_password_source(self) -> Callable[[], str] | None:
        """What gives each new database connection its password (None: the URL's own)."""
        file = self.secret_file("database_password", non_empty)
        if file is not None:
            return file.value
        if self.database_password is None:
            return None
        password = self.database_password.get_secret_value()
        return lambda: password

    def caller_registries(self) -> dict[str, TokenRegistry]:
        """Every caller kind's tokens: from its file while the service runs, else fixed.

        A bad file stops the start with one line (SecretFileError); env tokens are checked
        as `caller_tokens` does."""
        if self._registries is not None:
            return self._registries
        prefix = str(self.model_config.get("env_prefix", ""))
        registries: dict[str, TokenRegistry] = {}
        for name in type(self).model_fields:
            if not name.endswith("_tokens"):
                continue
            setting = f"{prefix}{name}".upper()
            file = self.secret_file(name, functools.partial(parse_token_map, setting=setting))
            kind = name.removesuffix("_tokens")
            registries[kind] = (
                FileTokenRegistry(file)
                if file is not None
                else TokenRegistry(parse_token_map(getattr(self, name), setting))
            )
        self._registries = registries
        return registries

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
        """Every `<kind>_tokens` setting, as kind -> principal -> token (validated), as they are
        now (a token file re-read)."""
        return {kind: registry.tokens() for kind, registry in self.caller_registries().items()}
