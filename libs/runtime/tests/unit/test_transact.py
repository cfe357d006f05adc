"""ServiceRuntime.transact runs work again after a deadlock, and only then."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.service import TRANSIENT_CONFLICT_ATTEMPTS, ServiceRuntime

from ..support import Runtime, RuntimeTestUnitOfWork, definition, settings


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def failing(sqlstate: str, times: int) -> tuple[list[int], Callable[[RuntimeTestUnitOfWork], str]]:
    calls: list[int] = []

    def work(_uow: RuntimeTestUnitOfWork) -> str:
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("UPDATE ...", {}, DriverError(sqlstate))
        return "done"

    return calls, work


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    return ServiceRuntime(definition(), settings(url), create_db_engine(url))


async def test_a_deadlock_victim_is_run_again(runtime: Runtime) -> None:
    calls, work = failing("40P01", times=1)
    assert await runtime.transact(work) == "done"
    assert len(calls) == 2


async def test_a_conflict_that_persists_reaches_the_caller(runtime: Runtime) -> None:
    calls, work = failing("40001", times=TRANSIENT_CONFLICT_ATTEMPTS)
    with pytest.raises(OperationalError):
        await runtime.transact(work)
    assert len(calls) == TRANSIENT_CONFLICT_ATTEMPTS


async def test_other_store_errors_are_not_retried(runtime: Runtime) -> None:
    calls, work = failing("08006", times=1)  # connection failure
    with pytest.raises(OperationalError):
        await runtime.transact(work)
    assert len(calls) == 1
