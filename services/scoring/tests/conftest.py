"""Fixtures for the scoring tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ensemble_runtime.db import create_db_engine, create_schema
from scoring.adapters import orm  # noqa: F401  (registers the tables)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file store with every table."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'scoring.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()
