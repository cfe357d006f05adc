"""The roster file (`SCHEDULING_COACHES_FILE`): upserted when the service starts.

A component, so it runs after the store is migrated and before the service reports ready.
A file that cannot be read or holds a coach that cannot be scheduled stops the start.
"""

import json
from pathlib import Path
from typing import Any

from ensemble_runtime.definition import Component
from ensemble_runtime.service import ServiceRuntime
from scheduling.domain.coach import Coach
from scheduling.service_layer.commands import UpsertCoaches


class CoachesFile:
    def __init__(self, runtime: ServiceRuntime[Any, Any], path: Path) -> None:
        self._runtime = runtime
        self._path = path

    def load(self) -> tuple[Coach, ...]:
        """The coaches of the file; InvalidCoach (or a JSON/OS error) for a bad one."""
        items = json.loads(self._path.read_text(encoding="utf-8"))
        return tuple(Coach.from_json(item) for item in items)

    async def start(self) -> None:
        await self._runtime.execute(UpsertCoaches(self.load()))

    async def stop(self) -> None:
        """Nothing runs after the start."""


def coaches_file(runtime: ServiceRuntime[Any, Any]) -> list[Component]:
    """The roster-file component, when the setting names a file."""
    path = runtime.settings.coaches_file
    return [CoachesFile(runtime, Path(path))] if path else []
