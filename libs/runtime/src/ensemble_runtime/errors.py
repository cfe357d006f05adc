"""What an error means (wait and retry, or give up on this one message) and how to name it
without patient data.

Store errors: a lost connection, a deadlock or a busy SQLite file passes; a constraint, a bad
value or a missing column will fail the same way every time. Kafka errors: a message the broker
refuses for what it is (too large, invalid) fails every time; a broker away, a timeout or bad
credentials are not the message's fault and must not push every message aside.

Error texts go to logs and dead letters, so SQLAlchemy errors are never rendered with str()
(it carries the SQL parameters, and the driver's message can echo values: "Key (nhs_number)=
(...) already exists"): only classes, the SQLSTATE and schema names are kept.
"""

import asyncio
from typing import Any

from aiokafka import errors as kafka
from pydantic import ValidationError
from sqlalchemy import exc as sa

from ensemble_runtime.logging import redact_text

# PostgreSQL SQLSTATE classes worth waiting for: connection (08), transaction rollback such as
# deadlock or serialization failure (40), insufficient resources (53), operator intervention
# such as shutdown or statement timeout (57), system/IO (58); and lock_not_available.
TRANSIENT_SQLSTATES = ("08", "40", "53", "57", "58", "55P03")
# SQLite result codes (and their extended forms) worth waiting for.
TRANSIENT_SQLITE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_FULL",
    "SQLITE_NOMEM",
    "SQLITE_PROTOCOL",
    "SQLITE_INTERRUPT",
)

# Non-retriable Kafka errors that describe the client, the cluster or the credentials, not the
# message: parking messages for these would push every message aside.
NOT_THE_MESSAGE_S_FAULT: tuple[type[BaseException], ...] = (
    kafka.KafkaTimeoutError,
    kafka.KafkaUnavailableError,
    kafka.KafkaConfigurationError,
    kafka.IllegalStateError,
    kafka.IllegalArgumentError,
    kafka.ProducerClosed,
    kafka.ProducerFenced,
    kafka.IncompatibleBrokerVersion,
    kafka.UnrecognizedBrokerVersion,
    kafka.UnsupportedVersionError,
    kafka.UnsupportedCodecError,
    kafka.AuthenticationFailedError,
    kafka.AuthenticationMethodNotSupported,
    kafka.SaslAuthenticationFailed,
    kafka.IllegalSaslStateError,
    kafka.UnsupportedSaslMechanismError,
    kafka.SecurityDisabled,
    kafka.ClusterAuthorizationFailedError,
    kafka.TopicAuthorizationFailedError,
    kafka.TransactionalIdAuthorizationFailed,
    kafka.OutOfOrderSequenceNumber,
    kafka.DuplicateSequenceNumber,
    kafka.InvalidProducerEpoch,
    kafka.InvalidProducerIdMapping,
    kafka.UnknownProducerId,
    kafka.InvalidTxnState,
    kafka.ConcurrentTransactions,
    kafka.TransactionCoordinatorFenced,
    kafka.BrokerNotAvailableError,
    kafka.ReplicaNotAvailableError,
    kafka.ListenerNotFound,
    kafka.QuotaViolationError,
    kafka.UnknownError,
)


def is_transient_store_error(error: BaseException) -> bool:
    """True when the same work may succeed later: wait and retry it, keeping order."""
    if isinstance(error, sa.TimeoutError | sa.DisconnectionError):  # pool exhausted, link lost
        return True
    if not isinstance(error, sa.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, sa.OperationalError | sa.InterfaceError):
        return False  # IntegrityError, DataError, ProgrammingError, ...: the same next time
    driver = error.orig
    if type(driver).__module__.startswith("sqlite3"):
        return str(getattr(driver, "sqlite_errorname", "") or "").startswith(TRANSIENT_SQLITE)
    sqlstate = str(getattr(driver, "sqlstate", "") or "")
    # No SQLSTATE: the server never answered (the connection failed).
    return not sqlstate or sqlstate.startswith(TRANSIENT_SQLSTATES)


def is_refused_for_good(error: BaseException) -> bool:
    """True when Kafka (or the client, before sending) refuses this message for what it is."""
    if isinstance(error, kafka.KafkaError):
        return not error.retriable and not isinstance(error, NOT_THE_MESSAGE_S_FAULT)
    # Not Kafka's: the client could not even encode the message. Network errors pass.
    return not isinstance(error, OSError | asyncio.TimeoutError | asyncio.CancelledError)


def describe_validation_error(error: ValidationError) -> str:
    """Field locations and messages only: input values (possibly PII) are left out."""
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or 'message'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    )


def describe_error(error: BaseException, limit: int = 1000) -> str:
    """A readable error text for logs and dead letters, without SQL parameters or values."""
    if isinstance(error, sa.StatementError | sa.DBAPIError):
        return _describe_store_error(error)
    if isinstance(error, ValidationError):
        return f"ValidationError: {describe_validation_error(error)}"[:limit]
    if isinstance(error, LookupError):
        return type(error).__name__  # a KeyError's text is the key: possibly a value
    text = str(error).split("[SQL", 1)[0].split("[parameters", 1)[0].strip()
    described = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return redact_text(described)[:limit]


def _describe_store_error(error: sa.StatementError | sa.DBAPIError) -> str:
    driver: Any = error.orig
    parts = [type(error).__name__]
    if driver is not None:
        parts.append(f"({type(driver).__module__.split('.')[0]}.{type(driver).__name__})")
    if sqlstate := getattr(driver, "sqlstate", None):
        parts.append(f"SQLSTATE {sqlstate}")
    if name := getattr(driver, "sqlite_errorname", None):
        parts.append(str(name))
    diagnostics = getattr(driver, "diag", None)
    for field in ("table_name", "column_name", "constraint_name"):
        if value := getattr(diagnostics, field, None):
            parts.append(f"{field.removesuffix('_name')} {value}")
    return " ".join(parts)
