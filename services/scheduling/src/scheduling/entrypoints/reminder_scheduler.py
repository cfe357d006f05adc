"""The reminder scan, run by the service every `SCHEDULING_REMINDER_SCAN_SECONDS` (0: never)
from its start: a component of the service, not a cron job. Each scan publishes the reminders
due (48 h and 2 h before a session) in one transaction with their marks, so none is sent twice
and a crash loses none."""

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import structlog

from ensemble_runtime.definition import Component
from ensemble_runtime.errors import describe_error
from ensemble_runtime.service import ServiceRuntime
from scheduling.service_layer.reminders import SendDueReminders

log = structlog.get_logger(__name__)


class ReminderScheduler:
    def __init__(self, runtime: ServiceRuntime[Any, Any]) -> None:
        self._runtime = runtime
        self._interval = float(runtime.settings.reminder_scan_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._every_interval(), name="reminder-scan")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def scan(self) -> int:
        """Publish everything due now, a batch at a time; how many reminders."""
        total = 0
        while True:
            sent = await self._runtime.execute(SendDueReminders())
            total += sent
            if sent < SendDueReminders.limit:
                return total

    async def _every_interval(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as error:  # the next interval tries again; nothing was marked
                log.error("reminder scan failed", error=describe_error(error))
            await asyncio.sleep(self._interval)


def reminder_scheduler(runtime: ServiceRuntime[Any, Any]) -> Iterable[Component]:
    """The scan component, unless the interval is 0."""
    return [ReminderScheduler(runtime)] if runtime.settings.reminder_scan_seconds > 0 else []
