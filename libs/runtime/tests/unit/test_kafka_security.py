"""Kafka client security: validated settings, mapped for aiokafka and FastStream."""

import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram512

from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.kafka import create_broker
from ensemble_runtime.kafka_security import PLAINTEXT, KafkaSecurity

from ..support import RuntimeTestSettings, definition

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    assert PLAINTEXT.client_options() == {"security_protocol": "PLAINTEXT"}
    assert PLAINTEXT.faststream() is None
    assert RuntimeTestSettings(database_url="sqlite://").kafka_security() == PLAINTEXT


def test_sasl_ssl_for_aiokafka_clients() -> None:
    security = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "svc", "s3cret-password")
    options = security.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "svc"
    assert options["sasl_plain_password"] == "s3cret-password"
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert "s3cret" not in repr(security)


def test_sasl_ssl_for_faststream() -> None:
    plain = KafkaSecurity("SASL_SSL", "PLAIN", "svc", "s3cret-password").faststream()
    assert isinstance(plain, SASLPlaintext) and plain.use_ssl and plain.ssl_context is not None
    scram = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "svc", "pw").faststream()
    assert isinstance(scram, SASLScram512) and not scram.use_ssl
    tls = KafkaSecurity("SSL").faststream()
    assert type(tls) is BaseSecurity and tls.use_ssl


@pytest.mark.skipif(not CA.is_file(), reason="no CA bundle on this host")
def test_a_ca_file_is_loaded() -> None:
    context = KafkaSecurity("SSL", ssl_cafile=str(CA)).ssl_context()
    assert context is not None and context.cert_store_stats()["x509_ca"] > 0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"protocol": "SASL_SSL"}, "needs a SASL mechanism"),
        ({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "user name and password"),
        ({"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "password"),
        ({"protocol": "PLAINTEXT", "sasl_username": "u"}, "SASL settings given"),
        ({"protocol": "SSL", "sasl_password": "p"}, "SASL settings given"),
        ({"protocol": "PLAINTEXT", "ssl_cafile": "/ca.pem"}, "CA file given"),
        ({"protocol": "TLS"}, "unknown Kafka security protocol"),
    ],
)
def test_half_a_configuration_is_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSecurity(**values)  # type: ignore[arg-type]


def test_service_settings_carry_it_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "scoring")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "from-the-environment")
    settings = RuntimeTestSettings(database_url="sqlite://")
    assert "from-the-environment" not in repr(settings)
    security = settings.kafka_security()
    assert security.protocol == "SASL_SSL" and security.sasl_username == "scoring"
    assert security.sasl_password == "from-the-environment"


def test_the_runtime_refuses_to_start_with_half_a_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="user name and password"):
        ServiceKit(
            definition(),
            f"sqlite:///{tmp_path}/s.db",
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="PLAIN",
        )


def test_the_broker_is_built_with_it() -> None:
    security = KafkaSecurity("SASL_SSL", "PLAIN", "svc", "s3cret-password")
    connection = create_broker("127.0.0.1:1", "svc", 1, security)._connection_kwargs
    assert connection["security_protocol"] == "SASL_SSL"
    assert connection["sasl_plain_username"] == "svc"
    assert isinstance(connection["ssl_context"], ssl.SSLContext)
    assert connection["compression_type"] == "gzip"  # dead letters may outgrow their message
