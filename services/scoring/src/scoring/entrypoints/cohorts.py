"""The cohort refresh, run by the service every `SCORING_COHORT_REFRESH_SECONDS` (0: never)
from its start: a component of the service, not a cron job. The saved definitions are read at
start, so a refused one stops the start with its file and line."""

from collections.abc import Iterable
from typing import Any

from ensemble_runtime.definition import Component
from ensemble_runtime.periodic import PeriodicScan
from ensemble_runtime.service import ServiceRuntime
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.cohorts import saved_cohorts
from scoring.service_layer.commands import RefreshCohorts


class CohortRefresh(PeriodicScan):
    name = "cohort refresh"

    def __init__(self, runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> None:
        super().__init__(runtime.settings.cohort_refresh_seconds)
        self._runtime = runtime

    async def start(self) -> None:
        saved_cohorts(self._runtime.settings.cohorts_dir)  # refuse a bad definition now
        await super().start()

    async def scan(self) -> tuple[int, int]:
        """One pass over the population: (joins, leaves) published."""
        command, joined, left = RefreshCohorts(), 0, 0
        while (done := await self._runtime.execute(command)).last is not None:
            joined, left = joined + done.joined, left + done.left
            command = RefreshCohorts(done.last, command.limit, command.correlation_id)
        return joined, left


def cohort_refresh(runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> Iterable[Component]:
    return [CohortRefresh(runtime)]
