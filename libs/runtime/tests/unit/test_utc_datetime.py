"""UtcDateTime: naive values are refused on the way in, values come back aware UTC."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select
from sqlalchemy.exc import StatementError

from ensemble_runtime.db import UtcDateTime, create_db_engine

metadata = MetaData()
stamps = Table(
    "stamps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime, nullable=True),
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'stamps.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_an_aware_time_comes_back_aware_utc(engine: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    written = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=paris)
    with engine.begin() as connection:
        connection.execute(insert(stamps).values(id=1, at=written))
        connection.execute(insert(stamps).values(id=2, at=None))
    with engine.connect() as connection:
        read = dict(connection.execute(select(stamps.c.id, stamps.c.at)).all())
    assert read[1] == written
    assert read[1].tzinfo is UTC
    assert read[1].hour == 9
    assert read[2] is None


def test_a_naive_time_is_refused(engine: Engine) -> None:
    with engine.begin() as connection, pytest.raises(StatementError, match="naive datetime"):
        connection.execute(insert(stamps).values(id=1, at=datetime(2026, 11, 23, 9, 0)))
