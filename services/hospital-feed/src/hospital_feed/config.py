"""Settings from the environment, prefix HOSPITAL_FEED_."""

import ipaddress
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from ensemble_runtime.auth import parse_token_map
from ensemble_runtime.config import SECRET_FIELD
from ensemble_runtime.page_sessions import PageSessionSettings
from hospital_feed.domain.message_search import MIN_KEY_LENGTH
from hospital_feed.domain.webhooks import parse_networks

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MllpPolicy:
    """How every MLLP listener treats its connections (validated from the settings)."""

    ssl_context: ssl.SSLContext | None  # None: plain TCP
    allowed: dict[str, tuple[Network, ...]]  # ODS code (or "*") -> sender networks
    read_timeout: float  # a frame in progress must be complete within this
    idle_timeout: float  # a connection with no frame in progress is closed after this
    max_connections: int  # per listener; more are closed at accept
    window: int  # frames read ahead of their ACKs per connection (1: strictly one by one)

    def networks_for(self, sender: str) -> tuple[Network, ...] | None:
        """The networks this trust may connect from; None: any address."""
        return self.allowed.get(sender.upper(), self.allowed.get("*"))


class Settings(PageSessionSettings):
    model_config = SettingsConfigDict(env_prefix="HOSPITAL_FEED_", extra="ignore")

    service_name: str = "hospital-feed"
    """The service's name (Kafka client id, consumer groups, logs)."""
    database_url: str = "sqlite:///run/hospital_feed.db"
    """SQLAlchemy URL of hospital-feed's store."""
    http_port: int = 8001
    """Port of the HTTP server."""
    # JSON {"principal": "token"}. Senders are named by the MSH-4 code they may send for.
    sender_tokens: str = Field(default="{}", json_schema_extra=SECRET_FIELD)
    """Sender bearer tokens, JSON {"MSH-4 code": "token"}: each sender may send for its code; from
    a file they are re-read while the service runs.
    """
    practice_tokens: str = Field(default="{}", json_schema_extra=SECRET_FIELD)
    """Practice bearer tokens, JSON {"ODS code": "token"} (practice users' tokens live in the
    store: ensemble-hospital-feed-access); from a file they are re-read while the service runs.
    """
    max_message_bytes: int = 1024 * 1024
    """Largest HL7 message (and HTTP body) accepted, in bytes."""
    # JSON {"RCB": 2575}: one MLLP listener per sending trust (MSH-4 it may send for -> port).
    mllp_listeners: str = "{}"
    """MLLP listeners, JSON {"MSH-4 code": port}: one per sending trust."""
    # MLLP over TLS when a certificate and key are given; mutual TLS with a client CA file
    # (and `require_client_cert` to refuse senders without a certificate it signed).
    mllp_tls_cert_file: str = ""
    """MLLP over TLS: the server certificate file (with the key file)."""
    mllp_tls_key_file: str = ""
    """MLLP over TLS: the server key file."""
    mllp_tls_client_ca_file: str = ""
    """MLLP mutual TLS: the CA file that signs senders' client certificates."""
    mllp_tls_require_client_cert: bool = False
    """MLLP mutual TLS: refuse senders without a certificate the client CA signed."""
    # JSON {"RCB": ["10.20.0.0/16"], "*": ["10.0.0.0/8"]}: the addresses each trust may
    # connect from ("*" for listeners not named). No entry: any address.
    mllp_allowed_networks: str = "{}"
    """Addresses each trust may connect from, JSON {"RCB": ["10.20.0.0/16"], "*": [...]}; no entry:
    any.
    """
    mllp_read_timeout_seconds: float = 30.0
    """An MLLP frame in progress must be complete within this."""
    mllp_idle_timeout_seconds: float = 300.0
    """An MLLP connection with no frame in progress is closed after this."""
    mllp_max_connections: int = 10
    """Connections per MLLP listener; more are closed at accept."""
    # Frames read ahead of their ACKs per connection, for senders that stream; ACKs still go
    # back in frame order. A full window stops reading (backpressure).
    mllp_window: int = 32
    """Frames read ahead of their ACKs per MLLP connection (1: strictly one by one)."""
    # Project each encounter to its alerts in the intake transaction (the alerts consumer then
    # finds it done); off: the consumer projects it after the Kafka hop, as before.
    alerts_at_intake: bool = True
    """Project each admission, discharge, ... to its alerts in the transaction that stores the
    message, so the alert is visible when the sender hears AA (off: after the Kafka hop)."""
    # An alert about a high-risk patient that nobody has actioned this long after it arrived
    # is overdue (domain/acknowledgement.is_overdue).
    alert_overdue_minutes: int = 240
    """An unactioned alert about a high-risk patient is overdue this long after it arrived."""
    # The alert stream (GET /v1/practices/{ods}/alerts/stream): one feed polls the store this
    # often for every practice's new alerts; each stream queues at most this many alerts its
    # client has not taken (more: dropped, it resumes with Last-Event-ID), and a client that
    # takes nothing for the send timeout is disconnected. Heartbeat comments keep proxies open.
    # A gap in the alert ids (PostgreSQL: a later id committed first) is waited for this long.
    alert_stream_poll_ms: int = 50
    """How often the alert stream's feed polls the store for new alerts."""
    alert_stream_queue_size: int = 1000
    """Alerts queued per stream that its client has not taken (more: dropped; it resumes with Last-
    Event-ID).
    """
    alert_stream_send_timeout_seconds: float = 30.0
    """A stream client that takes nothing this long is disconnected."""
    alert_stream_ping_seconds: float = 15.0
    """Heartbeat comment period on alert streams (keeps proxies open)."""
    # An open stream asks again this often whether its caller's token (or page session) still
    # holds, and ends once it does not: a revoke or disable also ends streams already open.
    alert_stream_recheck_seconds: float = Field(default=30.0, gt=0)
    """How often an open alert stream checks that its caller's access still holds."""
    alert_stream_gap_ms: int = 2000
    """How long a gap in alert ids (a later id committed first) is waited for."""
    # Roster uploads (entrypoints/rosters_http.py, the access CLI): at most this many rows and
    # bytes per file (more: 413). HTTP bodies are also capped by MAX_MESSAGE_BYTES.
    roster_max_rows: int = 50_000
    """Rows per roster file, at most (more: 413)."""
    roster_max_bytes: int = 1024 * 1024
    """Bytes per roster file, at most (more: 413)."""
    # Webhooks (entrypoints/webhook_dispatcher.py): each attempt is bounded by these timeouts;
    # a failed one is retried after min(max, base * 2^(n-1)) seconds, halved at random
    # (jitter), and dead after `max_attempts`. At most `concurrency` attempts are in flight
    # (one per endpoint). http:// endpoints only to this machine unless `allow_http`.
    # Digests go out at these local times of day in this zone. After a secret rotation the
    # old secret also signs for `secret_grace_hours`.
    webhook_connect_timeout_seconds: float = 5.0
    """Webhook attempt: connect timeout."""
    webhook_read_timeout_seconds: float = 10.0
    """Webhook attempt: read timeout."""
    webhook_total_timeout_seconds: float = 15.0
    """Webhook attempt: total timeout."""
    webhook_max_attempts: int = 12
    """Attempts at a webhook delivery before it is dead."""
    webhook_retry_base_seconds: float = 2.0
    """First wait before retrying a webhook delivery (then doubling, with jitter)."""
    webhook_retry_max_seconds: float = 900.0
    """Longest wait between webhook delivery attempts."""
    webhook_concurrency: int = 16
    """Webhook attempts in flight at once (one per endpoint)."""
    webhook_allow_http: bool = False
    """Allow http:// webhook endpoints off this machine (false: https only)."""
    webhook_allowed_networks: str = ""
    """Non-public networks webhooks may reach, comma-separated CIDRs (empty: public
    addresses only; loopback, private, link-local and reserved ones are refused)."""
    webhook_digest_times: str = "08:00,13:00"
    """Local times of day the alert digests go out, comma-separated HH:MM."""
    webhook_digest_zone: str = "Europe/London"
    """Time zone of the digest times."""
    webhook_secret_grace_hours: float = 24.0
    """After a webhook secret rotation the old secret also signs for this long."""
    webhook_poll_ms: int = 50
    """How often the webhook planner looks for new alerts."""
    # The message browser (/v1/staff/messages, /staff/messages): staff find a patient's
    # messages by an HMAC-SHA256 of the NHS number under this per-deployment key (at least
    # 32 characters, e.g. `openssl rand -base64 32`; domain/message_search.py). Unset: no
    # hash is kept, search by NHS number is refused, and the service warns at start (intake
    # goes on: a missing search key must not stop a hospital's feed). Changing it: run
    # `ensemble-hospital-feed-messages rehash`.
    message_search_key: SecretStr = Field(default=SecretStr(""), json_schema_extra=SECRET_FIELD)
    """Key (32+ characters) of the keyed hash that finds messages by NHS number; unset: no search
    by NHS number. Read at start; after a change run ensemble-hospital-feed-messages rehash.
    """
    # A sender that sends nothing for this many minutes of working time gets one warning
    # (0: never), and a gauge of seconds since its last message; working hours as
    # `Mon-Fri 08:00-18:00` in this zone.
    sender_quiet_minutes: int = 60
    """A sender silent this many working minutes gets one warning (0: never)."""
    sender_working_hours: str = "Mon-Fri 08:00-18:00"
    """Working hours for the quiet-sender check, e.g. Mon-Fri 08:00-18:00."""
    sender_working_zone: str = "Europe/London"
    """Time zone of the working hours."""
    # Retention of raw messages (adapters/message_retention.py): a message received longer
    # ago than this keeps its row (metadata, ACK, resend and duplicate detection) but its
    # text is cut to the MSH (and EVN) segments, enough to rebuild its ACK. Held and rejected
    # messages staff have not handled keep their text. 0: kept for ever. The runtime's
    # RETENTION_* settings (sweep period, batch size, off switch) apply.
    raw_message_retention_days: float = 90.0
    """Raw messages older than this keep only their MSH/EVN segments (0: kept for ever)."""

    @property
    def max_body_bytes(self) -> int:
        """The HTTP guard's body cap: one HL7 message, as on MLLP."""
        return self.max_message_bytes

    @property
    def webhook_networks(self) -> tuple[Network, ...]:
        """WEBHOOK_ALLOWED_NETWORKS parsed; a bad entry refuses the dispatcher's start."""
        try:
            return parse_networks(self.webhook_allowed_networks)
        except ValueError as error:
            raise ValueError(f"HOSPITAL_FEED_WEBHOOK_ALLOWED_NETWORKS: {error}") from None

    def message_search_hmac_key(self) -> bytes | None:
        """The NHS number search key; None when unset (or too short, which the service
        refuses at start: `check_message_search_key`)."""
        key = self.message_search_key.get_secret_value().strip()
        return key.encode("utf-8", "surrogatepass") if len(key) >= MIN_KEY_LENGTH else None

    def check_message_search_key(self) -> bool:
        """Whether a search key is set; a short one is refused (never echoed)."""
        key = self.message_search_key.get_secret_value().strip()
        if key and len(key) < MIN_KEY_LENGTH:
            raise ValueError(
                f"HOSPITAL_FEED_MESSAGE_SEARCH_KEY must be at least {MIN_KEY_LENGTH} characters"
            )
        return bool(key)

    def known_senders(self) -> list[str]:
        """Every sender this deployment expects: token holders and MLLP listeners."""
        tokens = parse_token_map(self.sender_tokens, "HOSPITAL_FEED_SENDER_TOKENS")
        return sorted({name.upper() for name in tokens} | set(self.mllp_ports()))

    def mllp_ports(self) -> dict[str, int]:
        value = json.loads(self.mllp_listeners) if self.mllp_listeners.strip() else {}
        if not isinstance(value, dict):
            raise ValueError("HOSPITAL_FEED_MLLP_LISTENERS: expected a JSON object ODS -> port")
        return {str(ods).upper(): int(port) for ods, port in value.items()}

    def mllp_policy(self) -> MllpPolicy:
        """Validated when the listeners are made (at start): half a TLS setup, a bad network
        or a non-positive timeout refuses to start. Not a pydantic validator: its error would
        echo every setting, tokens included."""
        if self.mllp_read_timeout_seconds <= 0 or self.mllp_idle_timeout_seconds <= 0:
            raise ValueError("HOSPITAL_FEED_MLLP_*_TIMEOUT_SECONDS must be positive")
        if self.mllp_max_connections < 1:
            raise ValueError("HOSPITAL_FEED_MLLP_MAX_CONNECTIONS must be at least 1")
        if self.mllp_window < 1:
            raise ValueError("HOSPITAL_FEED_MLLP_WINDOW must be at least 1")
        return MllpPolicy(
            ssl_context=self._mllp_ssl_context(),
            allowed=self._mllp_networks(),
            read_timeout=self.mllp_read_timeout_seconds,
            idle_timeout=self.mllp_idle_timeout_seconds,
            max_connections=self.mllp_max_connections,
            window=self.mllp_window,
        )

    def _mllp_networks(self) -> dict[str, tuple[Network, ...]]:
        setting = "HOSPITAL_FEED_MLLP_ALLOWED_NETWORKS"
        text = self.mllp_allowed_networks
        value = json.loads(text) if text.strip() else {}
        if not isinstance(value, dict):
            raise ValueError(f"{setting}: expected a JSON object ODS -> list of CIDRs")
        allowed: dict[str, tuple[Network, ...]] = {}
        for ods, networks in value.items():
            if not isinstance(networks, list) or not networks:
                raise ValueError(f"{setting}: {ods!r} needs a non-empty list of CIDRs")
            try:
                allowed[str(ods).upper()] = tuple(
                    ipaddress.ip_network(str(cidr), strict=False) for cidr in networks
                )
            except ValueError as error:
                raise ValueError(f"{setting}: {ods!r}: {error}") from None
        return allowed

    def _mllp_ssl_context(self) -> ssl.SSLContext | None:
        cert, key = self.mllp_tls_cert_file, self.mllp_tls_key_file
        client_ca = self.mllp_tls_client_ca_file
        if not cert and not key:
            if client_ca or self.mllp_tls_require_client_cert:
                raise ValueError("HOSPITAL_FEED_MLLP_TLS_*: client certificates need TLS")
            return None
        if not cert or not key:
            raise ValueError("HOSPITAL_FEED_MLLP_TLS_CERT_FILE and _KEY_FILE go together")
        if self.mllp_tls_require_client_cert and not client_ca:
            raise ValueError("HOSPITAL_FEED_MLLP_TLS_REQUIRE_CLIENT_CERT needs _CLIENT_CA_FILE")
        for path in (cert, key, client_ca):
            if path and not Path(path).is_file():
                raise ValueError(f"HOSPITAL_FEED_MLLP_TLS_*: no such file {path}")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        if client_ca:
            context.load_verify_locations(cafile=client_ca)
            context.verify_mode = (
                ssl.CERT_REQUIRED if self.mllp_tls_require_client_cert else ssl.CERT_OPTIONAL
            )
        return context
