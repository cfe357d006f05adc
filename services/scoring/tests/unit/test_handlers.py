"""Handlers on a real SQLite store: scores, score-change events and hot onboarding."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS, HOT_ONBOARDING, SCORE_CHANGES
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.unit_of_work import ScoringUnitOfWork

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
    triggers,
)

ADMITTED = EncounterEventType.ADMITTED
AE = EncounterEventType.AE_ATTENDANCE
CANCELLED = EncounterEventType.ADMISSION_CANCELLED


# --- profiles and score changes ---------------------------------------------------------------


def test_a_first_score_publishes_one_change_with_no_previous_band(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    assert load(kit, high_risk(nhs)) == 1

    events = published(kit, SCORE_CHANGES, nhs)
    assert len(events) == 1
    assert events[0].band == "very_high"
    assert events[0].previous_band is None
    assert events[0].score == 73
    assert events[0].practice_ods == "L85001"
    assert events[0].producer == "scoring"
    assert events[0].model_version == "ensemble-risk-1.0.0"
    assert {r.factor for r in events[0].reasons} >= {"physical_conditions", "polypharmacy"}


def test_no_event_when_the_band_stays_the_same(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))
    load(kit, high_risk(nhs, repeat_medicines=11))  # still very high
    assert len(published(kit, SCORE_CHANGES, nhs)) == 1
    history = scores(kit, nhs)
    assert len(history) == 2  # every computation is kept


def test_a_band_change_publishes_exactly_one_event(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    load(kit, {"nhs_number": nhs, "efi_deficits": 13})  # severe frailty: at least high

    events = published(kit, SCORE_CHANGES, nhs)
    assert [(e.previous_band, e.band) for e in events] == [
        (None, "moderate"),
        ("moderate", "high"),
    ]
    assert current(kit, nhs).score == 25 + 16
    assert current(kit, nhs).band == "high"


def test_a_partial_profile_line_keeps_the_other_fields(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))
    load(kit, {"nhs_number": nhs, "on_caseload": True})
    record = current(kit, nhs)
    assert record.score == 73  # conditions, age, medicines... all still known


def test_one_load_shares_one_correlation_id(kit: Kit) -> None:
    first, second = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, high_risk(first), moderate_risk(second))
    (a,) = published(kit, SCORE_CHANGES, first)
    (b,) = published(kit, SCORE_CHANGES, second)
    assert a.correlation_id == b.correlation_id
    assert a.event_id != b.event_id


def test_scores_are_stamped_by_the_clock_of_the_unit_of_work(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    kit.clock.advance(minutes=5)
    load(kit, high_risk(nhs))
    assert current(kit, nhs).computed_at == kit.clock()


# --- encounters ---------------------------------------------------------------------------


def test_every_encounter_type_is_recorded(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    other = next(NHS_NUMBERS)
    for event_type in EncounterEventType.ALL:
        event = encounter(nhs, event_type, visit_number=f"V-{event_type}")
        if event_type == EncounterEventType.MERGED:  # a merge names the retired number
            event = event.model_copy(update={"merged_from_nhs_number": other})
        kit.consume(event)

    stored = sorted(r.event_type for r in stored_encounters(kit, nhs))
    assert stored == sorted(EncounterEventType.ALL)
    subscription = kit.subscription(HOSPITAL_ENCOUNTERS)
    assert subscription.group == "scoring.encounters"  # consumer offsets depend on it
    assert set(subscription.handlers) == set(EncounterEventType.ALL)


def test_a_patient_known_only_from_hospital_events_is_scored(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    kit.consume(encounter(nhs, ADMITTED, visit_number="V1", practice_ods="L85003"))
    record = current(kit, nhs)
    assert record.score == 7
    assert record.band == "low"
    assert '"profile_known": false' in record.inputs
    (changed,) = published(kit, SCORE_CHANGES, nhs)
    assert changed.band == "low"
    assert changed.practice_ods == "L85003"
    assert published(kit, HOT_ONBOARDING, nhs) == []


def test_admissions_older_than_twelve_months_do_not_count(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    now = kit.clock()
    kit.consume(encounter(nhs, ADMITTED, "OLD", event_at=now - timedelta(days=400)))
    kit.consume(encounter(nhs, ADMITTED, "RECENT", event_at=now - timedelta(days=100)))
    kit.consume(encounter(nhs, EncounterEventType.DISCHARGED, "RECENT", event_at=now))
    assert current(kit, nhs).score == 7  # one admission in the window


def test_elective_admissions_do_not_count(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    kit.consume(encounter(nhs, ADMITTED, "V1", emergency=False))
    assert current(kit, nhs).score == 0


def test_an_invalid_nhs_number_is_rejected(kit: Kit) -> None:
    with pytest.raises(RejectedEvent):
        kit.consume(encounter("9999999999", ADMITTED))


# --- hot onboarding ------------------------------------------------------------------------


def test_an_admission_that_lifts_a_patient_to_high_triggers_once_per_visit(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    first = encounter(nhs, ADMITTED, visit_number="V100", practice_ods="L85002")
    kit.consume(first)
    # The same admission again (e.g. an A01 resent with a new control id): a new event_id.
    kit.consume(encounter(nhs, ADMITTED, visit_number="V100", practice_ods="L85002"))

    (trigger,) = published(kit, HOT_ONBOARDING, nhs)
    assert trigger.event_type == "hot_onboarding.triggered"
    assert trigger.trigger == "admission"
    assert trigger.trigger_event_id == first.event_id
    assert trigger.causation_id == first.event_id
    assert trigger.correlation_id == first.correlation_id
    assert trigger.band == "high"
    assert trigger.score == 32  # counted this admission: 25 + 7
    assert trigger.practice_ods == "L85002"
    assert trigger.preferred_language == "en"
    assert len(triggers(kit, nhs)) == 1
    # The score change to high was published, caused by the admission.
    changes = published(kit, SCORE_CHANGES, nhs)
    assert [(c.previous_band, c.band) for c in changes] == [
        (None, "moderate"),
        ("moderate", "high"),
    ]
    assert changes[1].causation_id == first.event_id


def test_a_new_visit_triggers_again(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))
    kit.consume(encounter(nhs, ADMITTED, visit_number="V1"))
    kit.consume(encounter(nhs, ADMITTED, visit_number="V2"))
    assert len(published(kit, HOT_ONBOARDING, nhs)) == 2


@pytest.mark.parametrize(
    "profile_change",
    [{"on_caseload": True}, {"objects_to_contact": True}],
)
def test_no_trigger_for_caseload_or_objection(kit: Kit, profile_change: dict[str, bool]) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs, **profile_change))
    kit.consume(encounter(nhs, ADMITTED))
    assert published(kit, HOT_ONBOARDING, nhs) == []
    assert triggers(kit, nhs) == []


def test_no_trigger_when_the_practice_is_unknown(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs, practice_ods=None))
    kit.consume(encounter(nhs, ADMITTED, practice_ods=None))
    assert published(kit, HOT_ONBOARDING, nhs) == []


def test_the_hospital_can_name_the_practice_when_the_profile_does_not(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs, practice_ods=None))
    kit.consume(encounter(nhs, ADMITTED, practice_ods="L85003"))
    (trigger,) = published(kit, HOT_ONBOARDING, nhs)
    assert trigger.practice_ods == "L85003"


def test_no_trigger_when_the_band_is_too_low(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs, conditions=["diabetes"]))  # 18, +7 = 25: moderate
    kit.consume(encounter(nhs, ADMITTED))
    assert current(kit, nhs).band == "moderate"
    assert published(kit, HOT_ONBOARDING, nhs) == []


def test_ae_attendance_triggers_at_the_configured_band(kit: Kit) -> None:
    very_high, high = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, high_risk(very_high), moderate_risk(high, efi_deficits=13))
    # The same store, served with SCORING_HOT_ONBOARDING_AE_MIN_BAND=very_high.
    strict = scoring_kit(kit.settings.database_url, hot_onboarding_ae_min_band="very_high")
    try:
        assert strict.settings.hot_onboarding.ae_min_band == "very_high"
        strict.consume(encounter(very_high, AE, visit_number="AE1"))
        strict.consume(encounter(high, AE, visit_number="AE1"))
    finally:
        strict.dispose()
    (trigger,) = published(kit, HOT_ONBOARDING, very_high)
    assert trigger.trigger == "ae_attendance"
    assert published(kit, HOT_ONBOARDING, high) == []
    # With the default setting (high) the high-band patient's next attendance triggers.
    assert kit.settings.hot_onboarding.ae_min_band == "high"
    kit.consume(encounter(high, AE, visit_number="AE2"))
    assert len(published(kit, HOT_ONBOARDING, high)) == 1


def test_a_cancelled_admission_withdraws_the_trigger_and_stops_counting(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    admission = encounter(nhs, ADMITTED, visit_number="V7", practice_ods="L85002")
    kit.consume(admission)
    assert current(kit, nhs).band == "high"

    cancel = encounter(nhs, CANCELLED, visit_number="V7", emergency=False)
    kit.clock.advance(minutes=30)
    kit.consume(cancel)

    triggered, withdrawn = published(kit, HOT_ONBOARDING, nhs)
    assert triggered.event_type == "hot_onboarding.triggered"
    assert withdrawn.event_type == "hot_onboarding.withdrawn"
    assert withdrawn.trigger_event_id == admission.event_id
    assert withdrawn.causation_id == cancel.event_id
    assert withdrawn.practice_ods == "L85002"
    (trigger,) = triggers(kit, nhs)
    assert trigger.withdrawn
    assert trigger.withdrawn_at == kit.clock()
    # The admission no longer counts: back to moderate, and that change is published too.
    assert current(kit, nhs).score == 25
    assert published(kit, SCORE_CHANGES, nhs)[-1].band == "moderate"
    # A second cancel does nothing more.
    kit.consume(encounter(nhs, CANCELLED, visit_number="V7", emergency=False))
    assert len(published(kit, HOT_ONBOARDING, nhs)) == 2


def test_a_cancel_without_a_trigger_publishes_nothing(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs, conditions=[]))
    kit.consume(encounter(nhs, ADMITTED, visit_number="V8"))
    kit.consume(encounter(nhs, CANCELLED, visit_number="V8", emergency=False))
    assert published(kit, HOT_ONBOARDING, nhs) == []


def test_readmission_on_a_withdrawn_visit_triggers_again(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))
    kit.consume(encounter(nhs, ADMITTED, visit_number="V9"))
    kit.consume(encounter(nhs, CANCELLED, visit_number="V9", emergency=False))
    again = encounter(nhs, ADMITTED, visit_number="V9")
    kit.consume(again)
    kinds = [e.event_type for e in published(kit, HOT_ONBOARDING, nhs)]
    assert kinds == [
        "hot_onboarding.triggered",
        "hot_onboarding.withdrawn",
        "hot_onboarding.triggered",
    ]
    (trigger,) = triggers(kit, nhs)
    assert not trigger.withdrawn
    assert trigger.trigger_event_id == again.event_id


# --- odd times and stored values: a valid event never crashes the consumer --------------------


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+05:00",  # converting it to UTC overflows
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31T23:59:59.999999",
        "1899-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ],
)
def test_an_implausible_producer_time_counts_as_the_time_received(
    kit: Kit, occurred_at: str
) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))
    odd = EncounterEvent.model_validate(
        {**encounter(nhs).model_dump(mode="json"), "event_at": None, "occurred_at": occurred_at}
    )
    assert kit.consume(odd) == ["processed"]
    (stored,) = stored_encounters(kit, nhs)
    assert stored.event_at == kit.clock()
    assert current(kit, nhs).computed_at == kit.clock()
    assert len(published(kit, HOT_ONBOARDING, nhs)) == 1


@pytest.mark.parametrize(
    "event_at", [datetime(1900, 1, 1, tzinfo=UTC), datetime(2199, 12, 31, 23, 59, tzinfo=UTC)]
)
def test_encounters_at_the_edges_of_the_plausible_range_are_scored(
    kit: Kit, event_at: datetime
) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))  # born 1938: not yet born in 1900, 261 years old in 2199
    assert kit.consume(encounter(nhs, event_at=event_at)) == ["processed"]
    (stored,) = stored_encounters(kit, nhs)
    assert stored.event_at == event_at
    assert current(kit, nhs).score > 0


@pytest.mark.parametrize("year", [1, 1899, 2200, 9999])
def test_the_contract_refuses_clinical_times_outside_the_plausible_range(year: int) -> None:
    """Such an event fails validation in the consumer: it is dead-lettered, never handled."""
    raw = encounter(next(NHS_NUMBERS)).model_dump(mode="json")
    with pytest.raises(ValidationError, match="plausible range"):
        EncounterEvent.model_validate({**raw, "event_at": f"{year:04d}-06-01T00:00:00Z"})


def test_a_stored_language_the_contract_cannot_carry_is_left_out(kit: Kit) -> None:
    """SQLite does not enforce VARCHAR(35): an older row may hold more. It is not known."""
    nhs = next(NHS_NUMBERS)
    load(kit, high_risk(nhs))

    def lengthen(uow: ScoringUnitOfWork) -> None:
        patient = uow.patients.get(nhs)
        assert patient is not None
        patient.preferred_language = "en-" + "a" * 60
        uow.patients.add(patient)
        uow.commit()

    kit.run(lengthen)
    assert kit.consume(encounter(nhs)) == ["processed"]
    (trigger,) = published(kit, HOT_ONBOARDING, nhs)
    assert trigger.preferred_language is None
