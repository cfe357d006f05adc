"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL."""

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate, schema_drift
from referral.service import DEFINITION

INSERT = text(
    "INSERT INTO referrals (referral_id, nhs_number, practice_ods, service, source, status,"
    " created_at, updated_at, due_by) VALUES (:id, '9990000018', :practice, 'complex_care',"
    " 'gp', 'requested', :at, :at, :at)"
)


def test_migrations_build_the_schema_the_models_declare(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine, DEFINITION.migrations)
    migrate(engine, DEFINITION.migrations)  # the next start finds nothing to do
    assert schema_drift(engine) == []


def _insert(engine: Engine, referral_id: str, practice: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            INSERT, {"id": referral_id, "practice": practice, "at": "2026-11-23 09:00:00+00:00"}
        )


def test_a_store_at_0001_keeps_its_referrals_and_one_open_referral_becomes_per_practice(
    database_url: str, tmp_path: Path
) -> None:
    first = tmp_path / "0001"
    first.mkdir()
    shutil.copy(DEFINITION.migrations / "0001_initial_schema.py", first)
    engine = create_db_engine(database_url)
    migrate(engine, first)  # a store deployed before registrations existed
    _insert(engine, "00000000-0000-4000-8000-000000000001", "L85001")
    with pytest.raises(IntegrityError):  # 0001: one open referral per patient and service
        _insert(engine, "00000000-0000-4000-8000-000000000002", "L85002")

    migrate(engine, DEFINITION.migrations)
    assert schema_drift(engine) == []
    _insert(engine, "00000000-0000-4000-8000-000000000002", "L85002")  # now per practice
    with pytest.raises(IntegrityError):
        _insert(engine, "00000000-0000-4000-8000-000000000003", "L85002")
    _insert(engine, "00000000-0000-4000-8000-000000000004", "Y0123456789Z")  # 12 characters
    with engine.connect() as connection:
        kept = connection.execute(
            text("SELECT practice_ods FROM referrals ORDER BY practice_ods")
        ).scalars()
        assert list(kept) == ["L85001", "L85002", "Y0123456789Z"]
        registrations = connection.execute(text("SELECT count(*) FROM patient_registrations"))
        assert registrations.scalar_one() == 0
