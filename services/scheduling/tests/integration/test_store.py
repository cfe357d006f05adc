"""The store refuses a double booking by itself (SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy.exc import IntegrityError

from ensemble_runtime.unit_of_work import UnitOfWork
from scheduling.adapters.orm import Appointment

from ..support import coach, service_on


def test_one_coach_one_start_time(database_url: str) -> None:
    service = service_on(database_url, [coach("C01", ["en"])])
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def appointment() -> Appointment:
        return Appointment(
            referral_id=uuid4(),
            nhs_number="9990000018",
            coach_id="C01",
            coach_timezone="UTC",
            language="en",
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )

    with UnitOfWork(service.engine, "scheduling") as uow:
        uow.session.add(appointment())
        uow.commit()
    with UnitOfWork(service.engine, "scheduling") as uow, pytest.raises(IntegrityError):
        uow.session.add(appointment())
        uow.commit()
    service.engine.dispose()
