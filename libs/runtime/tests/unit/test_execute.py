"""ServiceRuntime.execute: a command runs its definition's handler, conflicts rerun on request."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.exc import IntegrityError

from ensemble_devkit.testkit import ServiceKit
from ensemble_runtime.definition import Command
from ensemble_runtime.service import UnknownCommand

from ..support import (
    Kit,
    RecordSeen,
    RecordSeenOnce,
    RuntimeTestUnitOfWork,
    definition,
    kit_fixture,
    record_seen,
)


@dataclass(frozen=True)
class Unregistered(Command[None]):
    pass


class Twin:
    """A handler whose first run trips a unique constraint, as a concurrent twin would."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, uow: RuntimeTestUnitOfWork, command: RecordSeen) -> int:
        self.runs += 1
        if self.runs == 1:
            raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))
        return record_seen(uow, command)


@pytest.fixture
def twin() -> Twin:
    return Twin()


@pytest.fixture
def kit(tmp_path: Path, twin: Twin) -> Iterator[Kit]:
    yield from kit_fixture(
        definition(commands={RecordSeen: twin, RecordSeenOnce: twin}),
        f"sqlite:///{tmp_path / 'store.db'}",
    )


async def test_a_command_runs_its_handler_in_a_unit_of_work(tmp_path: Path) -> None:
    kit = ServiceKit(definition(), f"sqlite:///{tmp_path / 'store.db'}")
    correlation = uuid4()
    assert await kit.execute_async(RecordSeen(correlation, 1)) == 1
    assert await kit.execute_async(RecordSeen(correlation, 2)) == 2
    kit.dispose()


async def test_an_unknown_command_is_refused(kit: Kit) -> None:
    with pytest.raises(UnknownCommand, match="Unregistered"):
        await kit.runtime.execute(Unregistered())


async def test_a_conflict_reruns_a_command_that_asks_for_it(kit: Kit, twin: Twin) -> None:
    assert await kit.runtime.execute(RecordSeenOnce(uuid4(), 1)) == 1
    assert twin.runs == 2


async def test_a_conflict_reaches_the_caller_of_other_commands(kit: Kit, twin: Twin) -> None:
    with pytest.raises(IntegrityError):
        await kit.runtime.execute(RecordSeen(uuid4(), 1))
    assert twin.runs == 1
