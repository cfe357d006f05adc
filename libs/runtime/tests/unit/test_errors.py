"""Error classification and error texts free of SQL parameters and values."""

import sqlite3

import pytest
from aiokafka import errors as kafka
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc as sa

from ensemble_runtime.errors import describe_error, is_refused_for_good, is_transient_store_error

NHS = "9990000018"


class Driver(Exception):
    def __init__(self, sqlstate: str | None = None) -> None:
        super().__init__(f'duplicate key value violates unique constraint "u"\nKey (nhs)=({NHS})')
        self.sqlstate = sqlstate


def sqlite_error(name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorname = name
    return error


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sa.OperationalError("S", {}, Driver("40P01")), True),
        (sa.OperationalError("S", {}, Driver("08006")), True),
        (sa.OperationalError("S", {}, Driver("57P01")), True),
        (sa.OperationalError("S", {}, Driver(None)), True),
        (sa.OperationalError("S", {}, Driver("42P01")), False),
        (sa.OperationalError("S", {}, sqlite_error("SQLITE_BUSY")), True),
        (sa.OperationalError("S", {}, sqlite_error("SQLITE_IOERR_WRITE")), True),
        (sa.OperationalError("S", {}, sqlite_error("SQLITE_ERROR")), False),
        (sa.IntegrityError("S", {}, Driver("23505")), False),
        (sa.DataError("S", {}, Driver("22021")), False),
        (sa.ProgrammingError("S", {}, Driver("42601")), False),
        (sa.IntegrityError("S", {}, Driver("23505"), connection_invalidated=True), True),
        (sa.TimeoutError(), True),
        (RuntimeError("handler"), False),
    ],
)
def test_which_store_errors_pass(error: BaseException, transient: bool) -> None:
    assert is_transient_store_error(error) is transient


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        (kafka.MessageSizeTooLargeError(), True),
        (kafka.RecordListTooLargeError(), True),
        (kafka.InvalidTopicError(), True),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"), True),
        (kafka.KafkaConnectionError(), False),
        (kafka.KafkaTimeoutError(), False),
        (kafka.NotLeaderForPartitionError(), False),
        (kafka.ProducerClosed(), False),
        (kafka.TopicAuthorizationFailedError(), False),
        (kafka.SaslAuthenticationFailed(), False),
        (kafka.OutOfOrderSequenceNumber(), False),
        (ConnectionResetError(), False),
        (TimeoutError(), False),
    ],
)
def test_which_kafka_errors_are_the_message_s_fault(error: BaseException, for_good: bool) -> None:
    assert is_refused_for_good(error) is for_good


def test_store_error_texts_carry_no_parameters_or_values() -> None:
    error = sa.IntegrityError("INSERT INTO t VALUES (%(nhs)s)", {"nhs": NHS}, Driver("23505"))
    assert NHS in str(error)  # what SQLAlchemy would have written
    text = describe_error(error)
    assert text.startswith("IntegrityError (") and text.endswith(".Driver) SQLSTATE 23505")
    assert NHS not in text


def test_other_error_texts_are_redacted_and_keys_left_out() -> None:
    assert describe_error(ValueError(f"bad record for {NHS[:3]} {NHS[3:6]} {NHS[6:]}")) == (
        "ValueError: bad record for [nhs-number]"
    )
    assert describe_error(KeyError(NHS)) == "KeyError"
    wrapped = RuntimeError(f"failed [SQL: INSERT ...] [parameters: ('{NHS}',)]")
    assert describe_error(wrapped) == "RuntimeError: failed"


def test_validation_errors_are_described_without_their_input() -> None:
    class Patient(BaseModel):
        age: int

    with pytest.raises(ValidationError) as caught:
        Patient.model_validate({"age": "SMITH"})
    text = describe_error(caught.value)
    assert "SMITH" not in text
    assert text.startswith("ValidationError: age:")
