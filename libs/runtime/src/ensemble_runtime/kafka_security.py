"""How every Kafka client of a service connects: PLAINTEXT for a laptop, SASL_SSL in earnest.

One value, built from the service's settings, configures the FastStream broker (consumers and
dead letters), the outbox relay's producer, topic provisioning and the `ensemble-dlq` CLI.
"""

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SASL_CLASSES = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


@dataclass(frozen=True)
class KafkaSecurity:
    """Transport security and authentication for Kafka clients (validated when built).

    SSL verifies the broker against `ssl_cafile` (else the system's CAs) and its host name.
    SASL needs a mechanism, a user name and a password. Credentials with PLAINTEXT or SSL are
    refused rather than silently unused.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError(f"unknown Kafka security protocol {self.protocol!r}")
        if self.uses_sasl:
            if self.sasl_mechanism not in SASL_CLASSES:
                raise ValueError(f"{self.protocol} needs a SASL mechanism: PLAIN or SCRAM-SHA-*")
            if not self.sasl_username or not self.sasl_password:
                raise ValueError(f"{self.protocol} needs a SASL user name and password")
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            raise ValueError(f"SASL settings given but the security protocol is {self.protocol}")
        if self.ssl_cafile and not self.uses_ssl:
            raise ValueError(f"an SSL CA file given but the security protocol is {self.protocol}")

    @property
    def uses_ssl(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verifies the broker's certificate and host name; None without SSL."""
        return create_ssl_context(cafile=self.ssl_cafile) if self.uses_ssl else None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_ssl:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return options

    def faststream(self) -> BaseSecurity | None:
        """The same settings in FastStream's terms, for `KafkaBroker(security=...)`."""
        context = self.ssl_context()
        if self.uses_sasl:
            sasl = SASL_CLASSES[self.sasl_mechanism or "PLAIN"]
            return sasl(
                self.sasl_username or "",
                self.sasl_password or "",
                ssl_context=context,
                use_ssl=self.uses_ssl,
            )
        return BaseSecurity(ssl_context=context) if context is not None else None


PLAINTEXT = KafkaSecurity()
