"""Fuzz targets: one event loop per target, and the report written when the run ends."""

from collections.abc import Iterator

import pytest

from .report import write_report
from .support import Loop


@pytest.fixture
def loop() -> Iterator[Loop]:
    running = Loop()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="session", autouse=True)
def fuzz_report() -> Iterator[None]:
    """run/fuzz/report.md from every target's saved figures, once the session ends."""
    yield
    write_report()
