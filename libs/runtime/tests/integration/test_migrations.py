"""The migration runner: refuses stores it did not build, and reports drift from the models."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table

from ensemble_runtime.db import create_db_engine, create_schema
from ensemble_runtime.migrations import StoreNotUnderMigrations, migrate, schema_drift

from ..support import MIGRATIONS

EMPTY_REVISION = """
revision = "0001"
down_revision = None


def upgrade() -> None:
    pass
"""


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_empty.py").write_text(EMPTY_REVISION)
    return folder


def test_drift_names_what_the_migrations_lack(database_url: str, versions: Path) -> None:
    engine = create_db_engine(database_url)
    migrate(engine, versions)
    missing = {table.name for kind, table in schema_drift(engine) if kind == "add_table"}
    assert {"outbox", "inbox", "runtime_test_seen"} <= missing


def test_a_store_built_without_migrations_is_refused(tmp_path: Path, versions: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_schema(engine)
    with pytest.raises(StoreNotUnderMigrations, match="created without migrations"):
        migrate(engine, versions)


def test_the_delivery_tables_match_their_models(database_url: str) -> None:
    """The outbox/inbox models (UtcDateTime columns included) agree with their migration."""
    engine = create_db_engine(database_url)
    migrate(engine, MIGRATIONS)
    ours = {"outbox", "inbox", "runtime_test_seen"}
    drift = [change for change in schema_drift(engine) if _table_of(change) in ours]
    assert drift == []
    engine.dispose()


def _table_of(change: Any) -> str:
    """The table a drift entry is about: alembic gives (kind, Table|Index|Constraint) tuples,
    (kind, schema, table, ...) tuples, or lists of the latter for column changes."""
    entry = change[0] if isinstance(change, list) else change
    subject = entry[1]
    if isinstance(subject, Table):
        return str(subject.name)
    if hasattr(subject, "table"):
        return str(subject.table.name)
    return str(entry[2])
