"""The SLA watch, run by the service every `REFERRAL_SLA_SCAN_SECONDS` (0: never) from its
start: a component of the service, like scoring's hospital-use scan, not a cron job."""

from collections.abc import Iterable
from typing import Any

from ensemble_runtime.definition import Component
from ensemble_runtime.periodic import PeriodicScan
from ensemble_runtime.service import ServiceRuntime
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.service_layer.commands import FindSlaBreaches


class SlaWatch(PeriodicScan):
    name = "sla scan"

    def __init__(self, runtime: ServiceRuntime[Any, ReferralUnitOfWork]) -> None:
        super().__init__(runtime.settings.sla_scan_seconds)
        self._runtime = runtime

    async def scan(self) -> int:
        """Announce every breach due now, a page at a time: the number announced."""
        total = 0
        command = FindSlaBreaches()
        while (announced := await self._runtime.execute(command)) > 0:
            total += announced
            if announced < command.limit:
                break
        return total


def sla_watch(runtime: ServiceRuntime[Any, ReferralUnitOfWork]) -> Iterable[Component]:
    return [SlaWatch(runtime)]
