"""The SLA watch, run by the service every `REFERRAL_SLA_SCAN_SECONDS` (0: never) from its
start: a component of the service, like scoring's hospital-use scan, not a cron job."""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog

from ensemble_runtime.definition import Component
from ensemble_runtime.errors import describe_error
from ensemble_runtime.service import ServiceRuntime
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.service_layer.commands import FindSlaBreaches

log = structlog.get_logger(__name__)


class SlaWatch:
    def __init__(self, runtime: ServiceRuntime[Any, ReferralUnitOfWork]) -> None:
        self._runtime = runtime
        self._interval = float(runtime.settings.sla_scan_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._every_interval(), name="sla-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def scan(self) -> int:
        """Announce every breach due now, a page at a time: the number announced."""
        total = 0
        command = FindSlaBreaches()
        while (announced := await self._runtime.execute(command)) > 0:
            total += announced
            if announced < command.limit:
                break
        return total

    async def _every_interval(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as error:  # the next interval tries again; nothing was marked
                log.error("sla scan failed", error=describe_error(error))
            await asyncio.sleep(self._interval)


def sla_watch(runtime: ServiceRuntime[Any, ReferralUnitOfWork]) -> Iterable[Component]:
    return [SlaWatch(runtime)]
