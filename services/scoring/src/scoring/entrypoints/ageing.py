"""The scan that ages hospital use, run by the service every `SCORING_HOSPITAL_USE_SCAN_SECONDS`
(0: never) from its start: a component of the service, not a cron job."""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog

from ensemble_runtime.definition import Component
from ensemble_runtime.errors import describe_error
from ensemble_runtime.service import ServiceRuntime
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.commands import AgeHospitalUse

log = structlog.get_logger(__name__)


class HospitalUseAgeing:
    def __init__(self, runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> None:
        self._runtime = runtime
        self._interval = float(runtime.settings.hospital_use_scan_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._every_interval(), name="hospital-use-scan")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def scan(self) -> tuple[int, int]:
        """One scan to the current cutoff: (patients rescored, band changes published)."""
        command, rescored, changes = AgeHospitalUse(), 0, 0
        while True:
            aged = await self._runtime.execute(command)
            rescored, changes = rescored + aged.rescored, changes + aged.band_changes
            if aged.finished or aged.last is None:
                break
            command = AgeHospitalUse(aged.until, aged.last, command.limit, command.correlation_id)
        if rescored:
            log.info("hospital use aged", rescored=rescored, band_changes=changes)
        return rescored, changes

    async def _every_interval(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as error:  # the next interval tries again; the mark is unchanged
                log.error("hospital use scan failed", error=describe_error(error))
            await asyncio.sleep(self._interval)


def hospital_use_ageing(runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> Iterable[Component]:
    return [HospitalUseAgeing(runtime)]
