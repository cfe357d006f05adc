"""Every failure of `ensemble` as one line on stderr and an exit code, never a traceback.

Exit codes: 1 the work failed (or some of it: a replay with failures), 2 bad usage or input
(unknown service, bad settings or database URL; click's own usage errors are 2 as well),
3 a dependency did not answer (Kafka, the store).
"""

import contextlib
from collections.abc import Iterator

from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy import exc as sa
from sqlalchemy.engine import make_url

from ensemble_runtime.errors import describe_error, describe_validation_error
from ensemble_runtime.secrets import SecretFileError

FAILED, USAGE, UNREACHABLE = 1, 2, 3


class OpsError(Exception):
    """What the CLI says (one line) and exits with."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


def shown_url(url: str) -> str:
    """A database URL fit to print: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(an unreadable URL)"


@contextlib.contextmanager
def kafka_at(bootstrap: str) -> Iterator[None]:
    """Kafka failures inside, said with the broker's address."""
    try:
        yield
    except (KafkaError, OSError, TimeoutError) as error:
        raise OpsError(
            f"cannot reach Kafka at {bootstrap}: {_kafka_text(error)}", UNREACHABLE
        ) from None


def _kafka_text(error: BaseException) -> str:
    """aiokafka's texts start with their class name already: say it once."""
    text = describe_error(error)
    name = f"{type(error).__name__}: "
    return name + text.removeprefix(name).removeprefix(name) if text.startswith(name) else text


@contextlib.contextmanager
def store_at(url: str) -> Iterator[None]:
    """Store failures inside, said with the (masked) database URL."""
    try:
        yield
    except sa.ArgumentError as error:  # unparseable URL, unknown dialect or driver
        raise OpsError(f"bad database URL {shown_url(url)}: {error}", USAGE) from None
    except (sa.OperationalError, sa.InterfaceError) as error:
        raise OpsError(
            f"cannot use the store at {shown_url(url)}: {describe_error(error)}", UNREACHABLE
        ) from None
    except sa.SQLAlchemyError as error:
        raise OpsError(f"store at {shown_url(url)}: {describe_error(error)}") from None


def explain(error: BaseException) -> OpsError:
    """Any error as the one line the operator reads."""
    if isinstance(error, OpsError):
        return error
    if isinstance(error, ValidationError):
        return OpsError(f"bad settings: {describe_validation_error(error)}", USAGE)
    if isinstance(error, SecretFileError):  # already one line, naming the file, not its value
        return OpsError(str(error), USAGE)
    if isinstance(error, sa.ArgumentError):
        return OpsError(f"bad database URL: {error}", USAGE)
    if isinstance(error, sa.SQLAlchemyError):
        return OpsError(f"store: {describe_error(error)}", UNREACHABLE)
    if isinstance(error, KafkaError | TimeoutError):
        return OpsError(f"Kafka: {_kafka_text(error)}", UNREACHABLE)
    return OpsError(describe_error(error))
