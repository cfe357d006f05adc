"""A service's components start after its store is migrated and stop while it still works."""

from collections.abc import Iterable
from pathlib import Path
from uuid import uuid4

import pytest

from ensemble_runtime.definition import Component
from ensemble_runtime.service import build_service

from ..support import RecordSeen, Runtime, definition, seen_of, settings

pytestmark = pytest.mark.kafka


class Probe:
    """Writes through the store when started and when stopped; notes what was running."""

    def __init__(self, runtime: Runtime, name: str, journal: list[str]) -> None:
        self.runtime = runtime
        self.name = name
        self.journal = journal
        self.correlation = uuid4()

    async def start(self) -> None:
        await self.runtime.execute(RecordSeen(self.correlation, 1))  # needs the migrated store
        assert self.runtime.relay.connected or self.runtime.relay._task is not None
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        await self.runtime.execute(RecordSeen(self.correlation, 2))  # the store still works
        assert self.runtime.relay._task is not None and not self.runtime.relay._task.done()
        self.journal.append(f"stop {self.name}")


async def test_components_start_after_the_store_and_stop_before_it(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    journal: list[str] = []
    probes: list[Probe] = []

    def make(runtime: Runtime) -> Iterable[Component]:
        assert not runtime.started
        probes.extend([Probe(runtime, "a", journal), Probe(runtime, "b", journal)])
        return probes

    url = f"sqlite:///{tmp_path / 'store.db'}"
    runtime = build_service(definition(components=[make]), settings(url, kafka_bootstrap)).runtime
    await runtime.start()
    assert runtime.started
    assert journal == ["start a", "start b"]
    await runtime.stop()
    assert journal == ["start a", "start b", "stop b", "stop a"]
    for probe in probes:
        rows = await runtime.read(seen_of, probe.correlation)
        assert [row.sequence for row in rows] == [1, 2]
    runtime.engine.dispose()
