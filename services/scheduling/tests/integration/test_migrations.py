"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate, schema_drift
from scheduling.service import DEFINITION


def test_migrations_build_the_schema_the_models_declare(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine, DEFINITION.migrations)
    migrate(engine, DEFINITION.migrations)  # the next start finds nothing to do
    assert schema_drift(engine) == []
