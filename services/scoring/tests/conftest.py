"""Fixtures for the scoring tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Kit, scoring_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    """scoring on a fresh SQLite file store, driven without Kafka."""
    kit = scoring_kit(f"sqlite:///{tmp_path / 'scoring.db'}")
    yield kit
    kit.dispose()
