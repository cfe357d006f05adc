"""The cohort refresh, run by the service every `SCORING_COHORT_REFRESH_SECONDS` (0: never)
from its start: a component of the service, not a cron job. The saved definitions are read at
start, so a refused one stops the start with its file and line."""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog

from ensemble_runtime.definition import Component
from ensemble_runtime.errors import describe_error
from ensemble_runtime.service import ServiceRuntime
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.cohorts import saved_cohorts
from scoring.service_layer.commands import RefreshCohorts

log = structlog.get_logger(__name__)


class CohortRefresh:
    def __init__(self, runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> None:
        self._runtime = runtime
        self._interval = float(runtime.settings.cohort_refresh_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        saved_cohorts(self._runtime.settings.cohorts_dir)  # refuse a bad definition now
        if self._interval > 0:
            self._task = asyncio.create_task(self._every_interval(), name="cohort-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> tuple[int, int]:
        """One pass over the population: (joins, leaves) published."""
        command, joined, left = RefreshCohorts(), 0, 0
        while (done := await self._runtime.execute(command)).last is not None:
            joined, left = joined + done.joined, left + done.left
            command = RefreshCohorts(done.last, command.limit, command.correlation_id)
        return joined, left

    async def _every_interval(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as error:  # the next interval tries again
                log.error("cohort refresh failed", error=describe_error(error))
            await asyncio.sleep(self._interval)


def cohort_refresh(runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> Iterable[Component]:
    return [CohortRefresh(runtime)]
