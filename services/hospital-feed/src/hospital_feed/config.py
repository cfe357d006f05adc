"""Settings from the environment, prefix HOSPITAL_FEED_."""

import ipaddress
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import ServiceSettings

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


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="HOSPITAL_FEED_", extra="ignore")

    service_name: str = "hospital-feed"
    database_url: str = "sqlite:///run/hospital_feed.db"
    http_port: int = 8001
    # JSON {"principal": "token"}. Senders are named by the MSH-4 code they may send for.
    sender_tokens: str = "{}"
    practice_tokens: str = "{}"
    max_message_bytes: int = 1024 * 1024
    # JSON {"RCB": 2575}: one MLLP listener per sending trust (MSH-4 it may send for -> port).
    mllp_listeners: str = "{}"
    # MLLP over TLS when a certificate and key are given; mutual TLS with a client CA file
    # (and `require_client_cert` to refuse senders without a certificate it signed).
    mllp_tls_cert_file: str = ""
    mllp_tls_key_file: str = ""
    mllp_tls_client_ca_file: str = ""
    mllp_tls_require_client_cert: bool = False
    # JSON {"RCB": ["10.20.0.0/16"], "*": ["10.0.0.0/8"]}: the addresses each trust may
    # connect from ("*" for listeners not named). No entry: any address.
    mllp_allowed_networks: str = "{}"
    mllp_read_timeout_seconds: float = 30.0
    mllp_idle_timeout_seconds: float = 300.0
    mllp_max_connections: int = 10
    # Frames read ahead of their ACKs per connection, for senders that stream; ACKs still go
    # back in frame order. A full window stops reading (backpressure).
    mllp_window: int = 32
    # An alert about a high-risk patient that nobody has actioned this long after it arrived
    # is overdue (domain/acknowledgement.is_overdue).
    alert_overdue_minutes: int = 240
    # The practice page (/practice/): its session cookie is Secure unless the page is served
    # over plain HTTP (localhost); a session lasts this long after sign-in.
    page_cookie_secure: bool = False
    page_session_hours: float = 12.0
    # The alert stream (GET /v1/practices/{ods}/alerts/stream): one feed polls the store this
    # often for every practice's new alerts; each stream queues at most this many alerts its
    # client has not taken (more: dropped, it resumes with Last-Event-ID), and a client that
    # takes nothing for the send timeout is disconnected. Heartbeat comments keep proxies open.
    # A gap in the alert ids (PostgreSQL: a later id committed first) is waited for this long.
    alert_stream_poll_ms: int = 50
    alert_stream_queue_size: int = 1000
    alert_stream_send_timeout_seconds: float = 30.0
    alert_stream_ping_seconds: float = 15.0
    alert_stream_gap_ms: int = 2000

    @property
    def max_body_bytes(self) -> int:
        """The HTTP guard's body cap: one HL7 message, as on MLLP."""
        return self.max_message_bytes

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
