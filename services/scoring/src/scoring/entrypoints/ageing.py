"""The scan that ages hospital use, run by the service every `SCORING_HOSPITAL_USE_SCAN_SECONDS`
(0: never) from its start: a component of the service, not a cron job."""

from collections.abc import Iterable
from typing import Any

import structlog

from ensemble_runtime.definition import Component
from ensemble_runtime.periodic import PeriodicScan
from ensemble_runtime.service import ServiceRuntime
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.commands import AgeHospitalUse

log = structlog.get_logger(__name__)


class HospitalUseAgeing(PeriodicScan):
    name = "hospital use scan"

    def __init__(self, runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> None:
        super().__init__(runtime.settings.hospital_use_scan_seconds)
        self._runtime = runtime

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


def hospital_use_ageing(runtime: ServiceRuntime[Any, ScoringUnitOfWork]) -> Iterable[Component]:
    return [HospitalUseAgeing(runtime)]
