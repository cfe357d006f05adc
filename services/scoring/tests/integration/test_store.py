"""The scoring store on SQLite and PostgreSQL: the same handlers, the same answers."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.topics import HOT_ONBOARDING, SCORE_CHANGES
from ensemble_runtime.db import create_db_engine, create_schema
from ensemble_runtime.unit_of_work import UnitOfWork
from scoring.adapters import orm  # noqa: F401  (registers the tables)
from scoring.adapters.orm import HospitalEncounter, HotOnboardingTrigger, Patient, as_utc
from scoring.adapters.repository import hospital_use, latest_score
from scoring.service_layer.handlers import rescore

from ..support import encounter, handle, high_risk, load, moderate_risk, new_nhs_number, published


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def test_profiles_round_trip_and_the_latest_score_wins(store: Engine) -> None:
    nhs = new_nhs_number()
    load(store, moderate_risk(nhs))
    load(store, {"nhs_number": nhs, "conditions": ["diabetes", "ckd", "copd"]})
    with Session(store) as session:
        patient = session.get(Patient, nhs)
        assert patient is not None
        assert patient.birth_date is not None and patient.birth_date.year == 1940
        assert patient.conditions is not None and "copd" in patient.conditions
        assert as_utc(patient.updated_at).tzinfo is UTC
        latest = latest_score(session, nhs)
    assert latest is not None
    assert latest.score == 19 + 9
    assert len(published(store, SCORE_CHANGES.name, nhs)) == 1  # moderate both times


def test_hospital_use_window_and_cancellation(store: Engine) -> None:
    nhs = new_nhs_number()
    now = datetime.now(UTC)
    handle(store, encounter(nhs, EncounterEventType.ADMITTED, "OLD", event_at=now - timedelta(400)))
    handle(store, encounter(nhs, EncounterEventType.ADMITTED, "A", event_at=now - timedelta(10)))
    handle(store, encounter(nhs, EncounterEventType.ADMITTED, "B", event_at=now - timedelta(5)))
    handle(store, encounter(nhs, EncounterEventType.AE_ATTENDANCE, "AE", event_at=now))
    handle(store, encounter(nhs, EncounterEventType.ADMISSION_CANCELLED, "B", emergency=False))
    with Session(store) as session:
        use = hospital_use(session, nhs, now)
        stored = session.exec(
            select(HospitalEncounter).where(HospitalEncounter.nhs_number == nhs)
        ).all()
    assert (use.emergency_admissions, use.ae_attendances) == (1, 1)
    assert len(stored) == 5
    assert all(abs(as_utc(r.event_at) - now) < timedelta(days=401) for r in stored)


def test_one_trigger_per_visit_is_enforced_by_the_store(store: Engine) -> None:
    nhs = new_nhs_number()
    load(store, high_risk(nhs))
    first = encounter(nhs, EncounterEventType.ADMITTED, "V1")
    handle(store, first)
    handle(store, encounter(nhs, EncounterEventType.ADMITTED, "V1"))
    assert len(published(store, HOT_ONBOARDING.name, nhs)) == 1

    with Session(store) as session, pytest.raises(IntegrityError):
        session.add(
            HotOnboardingTrigger(
                nhs_number=nhs,
                facility="RCB",
                visit_number="V1",
                practice_ods="L85001",
                trigger="admission",
                trigger_event_id=first.event_id,
            )
        )
        session.commit()


def test_concurrent_rescores_of_one_patient_publish_one_band_change(store: Engine) -> None:
    nhs = new_nhs_number()
    now = datetime.now(UTC)
    first_has_scored = threading.Event()

    def first() -> None:
        with UnitOfWork(store, "scoring") as uow:
            rescore(uow, nhs, now, {"producer": "scoring"})
            first_has_scored.set()
            time.sleep(0.5)  # the second rescore runs while this one is not yet committed
            uow.commit()

    racer = threading.Thread(target=first)
    racer.start()
    assert first_has_scored.wait(10)
    with UnitOfWork(store, "scoring") as uow:
        rescore(uow, nhs, now, {"producer": "scoring"})
        uow.commit()
    racer.join()
    assert len(published(store, SCORE_CHANGES.name, nhs)) == 1
