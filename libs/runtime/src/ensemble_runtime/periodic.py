"""A component that runs one scan every interval from the service's start: the shape of the
SLA watch, the reminder scan, the hospital-use scan and the cohort refresh (not cron jobs)."""

import asyncio
import contextlib
from typing import Any

import structlog

from ensemble_runtime.errors import describe_error

log = structlog.get_logger(__name__)


class PeriodicScan:
    """Runs `scan()` now and then every `interval` seconds (0: never). A failed scan is
    logged and tried again at the next interval: scans mark what they did in the same
    transaction as its effect, so a retry repeats nothing."""

    name = "periodic scan"  # for the task and the log line of a failure

    def __init__(self, interval: float) -> None:
        self._interval = float(interval)
        self._task: asyncio.Task[None] | None = None

    async def scan(self) -> Any:
        raise NotImplementedError

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._every_interval(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _every_interval(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception as error:  # the next interval tries again
                log.error(f"{self.name} failed", error=describe_error(error))
            await asyncio.sleep(self._interval)
