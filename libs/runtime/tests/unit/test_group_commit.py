"""Group commit: concurrent commands share a transaction, yet each succeeds or fails alone."""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID, uuid4

import pytest
from fastapi import APIRouter, Depends
from sqlmodel import Session

from ensemble_runtime.group_commit import Overloaded
from ensemble_runtime.service import ServiceRuntime, runtime_of

from ..support import Kit, RecordSeen, RuntimeTestUnitOfWork, definition, kit_fixture, seen_of

FAILS = 13  # the handler raises for this sequence
FORGETS = 14  # the handler returns without committing for this one


@dataclass(frozen=True)
class RecordGrouped(RecordSeen):
    group_commit = True


class CountingUnitOfWork(RuntimeTestUnitOfWork):
    """Counts real commits; `fail_next_commit` makes the next group's COMMIT fail."""

    commits = 0
    fail_next_commit = False

    def commit_group(self) -> None:
        if CountingUnitOfWork.fail_next_commit:
            CountingUnitOfWork.fail_next_commit = False
            raise OSError("disk full")
        CountingUnitOfWork.commits += 1
        super().commit_group()


committed_log: list[int] = []
gate = threading.Event()  # while clear, sequence 0 holds the store thread
holding = threading.Event()  # set once sequence 0 is holding it


def record_grouped(uow: RuntimeTestUnitOfWork, command: RecordGrouped) -> int:
    if command.sequence == 0:
        holding.set()
        gate.wait(10)
    if command.sequence == FAILS:
        uow.seen.add(command.correlation_id, "9990000018", command.sequence)
        raise ValueError("this one is wrong")
    uow.seen.add(command.correlation_id, "9990000018", command.sequence)
    if command.sequence == FORGETS:
        return -1
    uow.after_commit(lambda: committed_log.append(command.sequence))
    uow.commit()
    return command.sequence


router = APIRouter()


@router.post("/grouped/{sequence}")
async def grouped_route(
    sequence: int, runtime: Annotated[ServiceRuntime[Any, Any], Depends(runtime_of)]
) -> dict[str, int]:
    return {"sequence": await runtime.execute(RecordGrouped(uuid4(), sequence))}


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    CountingUnitOfWork.commits = 0
    CountingUnitOfWork.fail_next_commit = False
    committed_log.clear()
    gate.set()
    service = definition(commands={RecordGrouped: record_grouped}, routers=[router])
    service = type(service)(**{**service.__dict__, "unit_of_work": CountingUnitOfWork})
    store = f"sqlite:///{tmp_path / 'store.db'}"
    yield from kit_fixture(service, store, group_commit_max_waiting=3)


def rows(kit: Kit, correlation: UUID) -> list[int]:
    def read(session: Session) -> list[int]:
        return [seen.sequence for seen in seen_of(session, correlation)]

    return kit.read(read)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError


async def hold_the_store(kit: Kit, first: Awaitable[Any]) -> "asyncio.Future[Any]":
    """Start `first` (sequence 0) and return once it holds the store thread at the gate."""
    gate.clear()
    holding.clear()
    started = asyncio.ensure_future(first)
    await until(holding.is_set)
    return started


async def held_behind_a_slow_command(kit: Kit, *commands: RecordGrouped) -> list[Any]:
    """Run `commands` while a first command holds the store: they all wait, then group."""
    first = await hold_the_store(kit, kit.execute_async(RecordGrouped(uuid4(), 0)))
    rest = asyncio.gather(*(kit.execute_async(c) for c in commands), return_exceptions=True)
    await until(lambda: rest.done() or kit.runtime.group.waiting == min(len(commands), 3))
    gate.set()
    await first
    return list(await rest)


async def test_commands_that_wait_together_commit_together(kit: Kit) -> None:
    correlation = uuid4()
    results = await held_behind_a_slow_command(
        kit, *(RecordGrouped(correlation, n) for n in (1, 2, 3))
    )
    assert results == [1, 2, 3]
    assert rows(kit, correlation) == [1, 2, 3]
    assert CountingUnitOfWork.commits == 2  # the slow first alone, then the three at once
    assert committed_log == [0, 1, 2, 3]


async def test_a_failing_or_uncommitted_command_is_undone_alone(kit: Kit) -> None:
    correlation = uuid4()
    results = await held_behind_a_slow_command(
        kit, *(RecordGrouped(correlation, n) for n in (1, FAILS, FORGETS))
    )
    assert results[0] == 1
    assert isinstance(results[1], ValueError)
    assert results[2] == -1
    assert rows(kit, correlation) == [1]  # neither the failed nor the uncommitted row
    assert committed_log == [0, 1]  # after-commit actions of undone commands never run


async def test_a_failed_commit_fails_every_caller_of_the_group(kit: Kit) -> None:
    correlation = uuid4()
    CountingUnitOfWork.fail_next_commit = True
    results = await asyncio.gather(
        kit.execute_async(RecordGrouped(correlation, 1)), return_exceptions=True
    )
    assert isinstance(results[0], OSError)
    assert rows(kit, correlation) == []
    assert committed_log == []
    assert await kit.execute_async(RecordGrouped(correlation, 2)) == 2  # the next group commits


async def test_too_many_waiting_commands_are_refused_and_http_answers_503(kit: Kit) -> None:
    correlation = uuid4()
    results = await held_behind_a_slow_command(
        kit, *(RecordGrouped(correlation, n) for n in (1, 2, 3, 4))
    )
    assert results[:3] == [1, 2, 3]
    assert isinstance(results[3], Overloaded)  # the waiting line holds 3

    async with kit.client() as client:
        first = await hold_the_store(kit, client.post("/grouped/0"))
        waiting = [asyncio.ensure_future(client.post(f"/grouped/{n}")) for n in (5, 6, 7, 8)]
        await until(lambda: any(w.done() for w in waiting))  # one refused, three wait
        gate.set()
        answers = [await first, *[await w for w in waiting]]
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 503]
    (refused,) = [a for a in answers if a.status_code == 503]
    assert refused.headers["retry-after"] == "1"
