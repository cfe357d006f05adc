"""Group commit: many commands in one transaction and one fsync, each answered after COMMIT.

Why: on SQLite every commit is an fsync and there is one writer; on PostgreSQL every commit
waits for a WAL flush. So a command that arrives while a transaction runs waits, and the next
transaction takes every waiting command (up to `max_group`). There is no timer: a lone command
starts at once, so grouping adds no latency on a quiet system.

Each command runs in a SAVEPOINT: one that fails is undone alone and its caller gets the
error; the others commit. Callers hear their result only after the shared COMMIT returned, so
an HL7 AA still means "durable". If the COMMIT fails, every caller of the group gets the error
and nothing of the group was kept (the sender resends).

Backpressure: at most `max_waiting` commands wait; one more is refused with `Overloaded`
(HTTP answers 503 with Retry-After) instead of queueing without bound.
"""

import asyncio
import contextvars
import functools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ensemble_runtime import metrics
from ensemble_runtime.db import StoreWorker
from ensemble_runtime.unit_of_work import UnitOfWork

T = TypeVar("T")
U = TypeVar("U", bound=UnitOfWork[Any])


class Overloaded(Exception):
    """Too many commands are waiting for the store: come back later (HTTP 503)."""

    retry_after_seconds = 1


@dataclass
class _Waiting(Generic[U]):
    work: Callable[[U], Any]
    future: "asyncio.Future[Any]"
    # The caller's context (bound log fields), so its log lines stay its own in the group.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class GroupCommitter(Generic[U]):
    def __init__(
        self,
        unit_of_work: Callable[[], U],
        store: StoreWorker,
        name: str,
        max_group: int = 64,
        max_waiting: int = 1000,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._store = store
        self._name = name
        self._max_group = max_group
        self._max_waiting = max_waiting
        self._waiting: deque[_Waiting[U]] = deque()
        self._drainer: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def submit(self, work: Callable[[U], T], may_refuse: bool = True) -> T:
        """Run `work(uow)` in the next group; `work` calls `uow.commit()` as it would alone.
        Commands are run in the order they were submitted."""
        if may_refuse and len(self._waiting) >= self._max_waiting:
            metrics.GROUP_COMMIT_REFUSED.labels(self._name).inc()
            raise Overloaded(f"{len(self._waiting)} commands are waiting for the store")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(work, future))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain(), name=f"group-{self._name}")
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                count = min(len(self._waiting), self._max_group)
                group = [self._waiting.popleft() for _ in range(count)]
                metrics.GROUP_COMMIT_SIZE.labels(self._name).observe(count)
                try:
                    outcomes = await self._store.run(self._run_group, group)
                except BaseException as error:  # the COMMIT failed: nothing of the group kept
                    outcomes = [(False, error)] * len(group)
                for waiting, (succeeded, value) in zip(group, outcomes, strict=True):
                    if waiting.future.done():  # the caller went away; its work still counts
                        continue
                    if succeeded:
                        waiting.future.set_result(value)
                    else:
                        waiting.future.set_exception(value)
        finally:
            self._drainer = None

    def _run_group(self, group: list[_Waiting[U]]) -> list[tuple[bool, Any]]:
        with self._unit_of_work() as uow:
            outcomes = [
                uow.run_item(functools.partial(waiting.context.run, waiting.work, uow))
                for waiting in group
            ]
            uow.commit_group()
        return outcomes
