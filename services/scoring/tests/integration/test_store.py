"""The scoring store on SQLite and PostgreSQL: the same handlers, the same answers."""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.topics import HOT_ONBOARDING, SCORE_CHANGES
from scoring.adapters.orm import HospitalEncounter, HotOnboardingTrigger
from scoring.adapters.repository import EncounterRepository, PatientRepository
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.handlers import handle_encounter, rescore

from ..support import (
    NHS_NUMBERS,
    Kit,
    current,
    encounter,
    high_risk,
    load,
    moderate_risk,
    published,
    scores,
    scoring_kit,
    stored_encounters,
)


@pytest.fixture
def store(database_url: str) -> Iterator[Kit]:
    kit = scoring_kit(database_url)
    yield kit
    kit.dispose()


def test_profiles_round_trip_and_the_latest_score_wins(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(store, moderate_risk(nhs))
    load(store, {"nhs_number": nhs, "conditions": ["diabetes", "ckd", "copd"]})
    patient = store.read(lambda session: PatientRepository(session).get(nhs))
    assert patient is not None
    assert patient.birth_date is not None and patient.birth_date.year == 1940
    assert patient.conditions is not None and "copd" in patient.conditions
    assert patient.updated_at.tzinfo is UTC
    assert patient.updated_at == store.clock()
    assert current(store, nhs).score == 19 + 9
    assert len(published(store, SCORE_CHANGES, nhs)) == 1  # moderate both times


def test_hospital_use_window_and_cancellation(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    now = store.clock()
    store.consume(encounter(nhs, EncounterEventType.ADMITTED, "OLD", event_at=now - timedelta(400)))
    store.consume(encounter(nhs, EncounterEventType.ADMITTED, "A", event_at=now - timedelta(10)))
    store.consume(encounter(nhs, EncounterEventType.ADMITTED, "B", event_at=now - timedelta(5)))
    store.consume(encounter(nhs, EncounterEventType.AE_ATTENDANCE, "AE", event_at=now))
    store.consume(encounter(nhs, EncounterEventType.ADMISSION_CANCELLED, "B", emergency=False))
    use = store.read(lambda session: EncounterRepository(session).hospital_use(nhs, now, 365))
    stored = stored_encounters(store, nhs)
    assert (use.emergency_admissions, use.ae_attendances) == (1, 1)
    assert len(stored) == 5
    assert all(abs(r.event_at - now) < timedelta(days=401) for r in stored)
    assert all(r.event_at.tzinfo is UTC and r.received_at == now for r in stored)


def test_an_encounter_already_recorded_is_neither_recorded_nor_scored_again(store: Kit) -> None:
    """Past the inbox (e.g. its row lost), the stored encounter itself stops a second pass."""
    nhs = next(NHS_NUMBERS)
    load(store, high_risk(nhs))
    event = encounter(nhs, EncounterEventType.ADMITTED, "V1")
    for _ in range(2):
        with store.unit_of_work() as uow:
            handle_encounter(uow, event)
            uow.commit()
    assert len(stored_encounters(store, nhs)) == 1
    assert len(scores(store, nhs)) == 2  # the profile load's and the admission's
    assert len(published(store, HOT_ONBOARDING, nhs)) == 1


def test_one_trigger_per_visit_is_enforced_by_the_store(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(store, high_risk(nhs))
    first = encounter(nhs, EncounterEventType.ADMITTED, "V1")
    store.consume(first)
    store.consume(encounter(nhs, EncounterEventType.ADMITTED, "V1"))
    assert len(published(store, HOT_ONBOARDING, nhs)) == 1

    def add_a_second_trigger(uow: ScoringUnitOfWork) -> None:
        uow.triggers.add(
            HotOnboardingTrigger(
                nhs_number=nhs,
                facility="RCB",
                visit_number="V1",
                practice_ods="L85001",
                trigger="admission",
                trigger_event_id=first.event_id,
                created_at=uow.clock(),
            )
        )
        uow.commit()

    with pytest.raises(IntegrityError):
        store.run(add_a_second_trigger)


def test_concurrent_rescores_of_one_patient_publish_one_band_change(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    now = store.clock()
    first_has_scored = threading.Event()

    def first() -> None:
        with store.unit_of_work() as uow:
            rescore(uow, nhs, now, {"producer": "scoring"})
            first_has_scored.set()
            time.sleep(0.5)  # the second rescore runs while this one is not yet committed
            uow.commit()

    racer = threading.Thread(target=first)
    racer.start()
    assert first_has_scored.wait(10)
    with store.unit_of_work() as uow:
        rescore(uow, nhs, now, {"producer": "scoring"})
        uow.commit()
    racer.join()
    assert len(published(store, SCORE_CHANGES, nhs)) == 1


def test_every_field_the_contracts_allow_fits_the_store(store: Kit) -> None:
    """Events and profiles at the contract's maxima are stored on both stores (PostgreSQL
    enforces column widths: a narrower column would refuse the event)."""
    nhs = next(NHS_NUMBERS)
    practice = "P" * limits.ODS_CODE
    language = "en-" + "-".join(["abcdefgh"] * 3) + "-abcde"
    assert len(language) == limits.LANGUAGE
    load(store, high_risk(nhs, practice_ods=practice, preferred_language=language))
    event = encounter(
        nhs,
        visit_number="V" * limits.VISIT_NUMBER,
        practice_ods="Q" * limits.ODS_CODE,
        facility="F" * limits.ODS_CODE,
    )
    assert store.consume(event) == ["processed"]

    (trigger,) = published(store, HOT_ONBOARDING, nhs)
    assert (trigger.practice_ods, trigger.preferred_language) == (practice, language)
    stored = store.read(lambda session: session.get(HospitalEncounter, event.event_id))
    assert stored is not None
    assert (stored.practice_ods, stored.facility) == ("Q" * 12, "F" * 12)
    assert stored.visit_number == "V" * limits.VISIT_NUMBER

    # A patient known only from the hospital: the practice comes from the event.
    stranger = next(NHS_NUMBERS)
    store.consume(encounter(stranger, practice_ods="R" * limits.ODS_CODE))
    (change,) = published(store, SCORE_CHANGES, stranger)
    assert change.practice_ods == "R" * limits.ODS_CODE


def test_the_one_rescore_read_gives_what_the_separate_reads_give(store: Kit) -> None:
    known, stranger = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(store, high_risk(known))
    now = store.clock()
    store.consume(encounter(known, EncounterEventType.ADMITTED, "V1"))
    store.consume(encounter(known, EncounterEventType.AE_ATTENDANCE, "AE", event_at=now))
    store.consume(
        encounter(known, EncounterEventType.ADMITTED, "OLD", event_at=now - timedelta(400))
    )

    def both(uow: ScoringUnitOfWork, nhs: str, visit: str | None) -> None:
        one = uow.rescore_reads.inputs(nhs, now, 365, "RCB" if visit else None, visit)
        assert one.profile == uow.patients.profile(nhs)
        assert one.previous_band == uow.scores.latest_band(nhs)
        assert one.use == uow.encounters.hospital_use(nhs, now, 365)
        assert one.trigger == (uow.triggers.for_visit(nhs, "RCB", visit) if visit else None)
        active = uow.models.active()
        assert uow.models.active_of(one.active_version, one.active_digest) == active
        assert (one.active_version, one.window_days) == (uow.models.active_version(), 365)

    with store.unit_of_work() as uow:
        both(uow, known, "V1")  # profile, band, both counts, the visit's trigger
        assert uow.rescore_reads.inputs(known, now, 365, "RCB", "V1").trigger is not None
        both(uow, known, "AE")  # a visit without a trigger
        both(uow, known, None)  # no visit asked
        both(uow, stranger, "V1")  # nothing known at all
        assert uow.rescore_reads.inputs(stranger, now, 365).profile is None


def test_the_rescore_read_says_no_model_was_activated_when_none_was(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    with store.unit_of_work() as uow:
        read = uow.rescore_reads.inputs(nhs, store.clock(), 365)
        assert (read.active_version, read.active_digest) == (None, None)
        assert uow.models.active_of(None, None) == uow.models.active()  # the packaged default
