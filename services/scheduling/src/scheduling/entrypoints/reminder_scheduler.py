"""The reminder scan, run by the service every `SCHEDULING_REMINDER_SCAN_SECONDS` (0: never)
from its start: a component of the service, not a cron job. Each scan publishes the reminders
due (48 h and 2 h before a session) in one transaction with their marks, so none is sent twice
and a crash loses none."""

from collections.abc import Iterable
from typing import Any

from ensemble_runtime.definition import Component
from ensemble_runtime.periodic import PeriodicScan
from ensemble_runtime.service import ServiceRuntime
from scheduling.service_layer.reminders import SendDueReminders


class ReminderScheduler(PeriodicScan):
    name = "reminder scan"

    def __init__(self, runtime: ServiceRuntime[Any, Any]) -> None:
        super().__init__(runtime.settings.reminder_scan_seconds)
        self._runtime = runtime

    async def scan(self) -> int:
        """Publish everything due now, a batch at a time; how many reminders."""
        total = 0
        while True:
            sent = await self._runtime.execute(SendDueReminders())
            total += sent
            if sent < SendDueReminders.limit:
                return total


def reminder_scheduler(runtime: ServiceRuntime[Any, Any]) -> Iterable[Component]:
    """The scan component, unless the interval is 0."""
    return [ReminderScheduler(runtime)] if runtime.settings.reminder_scan_seconds > 0 else []
