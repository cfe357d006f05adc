"""Handlers on a real SQLite store: scores, score-change events and hot onboarding."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.topics import HOT_ONBOARDING, SCORE_CHANGES
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.orm import HospitalEncounter, HotOnboardingTrigger, RiskScoreRecord
from scoring.adapters.repository import latest_score
from scoring.service_layer.handlers import EVENT_HANDLERS, HotOnboardingPolicy

from ..support import (
    encounter,
    handle,
    high_risk,
    load,
    moderate_risk,
    new_nhs_number,
    published,
)

ADMITTED = EncounterEventType.ADMITTED
AE = EncounterEventType.AE_ATTENDANCE
CANCELLED = EncounterEventType.ADMISSION_CANCELLED


def current(engine: Engine, nhs: str) -> RiskScoreRecord:
    with Session(engine) as session:
        record = latest_score(session, nhs)
    assert record is not None
    return record


def triggers(engine: Engine, nhs: str) -> list[HotOnboardingTrigger]:
    with Session(engine) as session:
        query = select(HotOnboardingTrigger).where(HotOnboardingTrigger.nhs_number == nhs)
        return list(session.exec(query).all())


# --- profiles and score changes ---------------------------------------------------------------


def test_a_first_score_publishes_one_change_with_no_previous_band(engine: Engine) -> None:
    nhs = new_nhs_number()
    assert load(engine, high_risk(nhs)) == 1

    events = published(engine, SCORE_CHANGES.name, nhs)
    assert len(events) == 1
    assert events[0]["band"] == "very_high"
    assert events[0]["previous_band"] is None
    assert events[0]["score"] == 73
    assert events[0]["practice_ods"] == "L85001"
    assert events[0]["producer"] == "scoring"
    assert events[0]["model_version"] == "ensemble-risk-1.0.0"
    assert {r["factor"] for r in events[0]["reasons"]} >= {"physical_conditions", "polypharmacy"}


def test_no_event_when_the_band_stays_the_same(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs))
    load(engine, high_risk(nhs, repeat_medicines=11))  # still very high
    assert len(published(engine, SCORE_CHANGES.name, nhs)) == 1
    with Session(engine) as session:
        history = session.exec(
            select(RiskScoreRecord).where(RiskScoreRecord.nhs_number == nhs)
        ).all()
    assert len(history) == 2  # every computation is kept


def test_a_band_change_publishes_exactly_one_event(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, moderate_risk(nhs))
    load(engine, {"nhs_number": nhs, "efi_deficits": 13})  # severe frailty: at least high

    events = published(engine, SCORE_CHANGES.name, nhs)
    assert [(e["previous_band"], e["band"]) for e in events] == [
        (None, "moderate"),
        ("moderate", "high"),
    ]
    assert current(engine, nhs).score == 25 + 16
    assert current(engine, nhs).band == "high"


def test_a_partial_profile_line_keeps_the_other_fields(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs))
    load(engine, {"nhs_number": nhs, "on_caseload": True})
    record = current(engine, nhs)
    assert record.score == 73  # conditions, age, medicines... all still known


def test_one_load_shares_one_correlation_id(engine: Engine) -> None:
    first, second = new_nhs_number(), new_nhs_number()
    load(engine, high_risk(first), moderate_risk(second))
    (a,) = published(engine, SCORE_CHANGES.name, first)
    (b,) = published(engine, SCORE_CHANGES.name, second)
    assert a["correlation_id"] == b["correlation_id"]
    assert a["event_id"] != b["event_id"]


# --- encounters ---------------------------------------------------------------------------


def test_every_encounter_type_is_recorded(engine: Engine) -> None:
    nhs = new_nhs_number()
    for event_type in EncounterEventType.ALL:
        handle(engine, encounter(nhs, event_type, visit_number=f"V-{event_type}"))
    with Session(engine) as session:
        rows = session.exec(select(HospitalEncounter).where(HospitalEncounter.nhs_number == nhs))
        assert sorted(r.event_type for r in rows) == sorted(EncounterEventType.ALL)
    assert set(EVENT_HANDLERS) == set(EncounterEventType.ALL)


def test_a_patient_known_only_from_hospital_events_is_scored(engine: Engine) -> None:
    nhs = new_nhs_number()
    handle(engine, encounter(nhs, ADMITTED, visit_number="V1", practice_ods="L85003"))
    record = current(engine, nhs)
    assert record.score == 7
    assert record.band == "low"
    assert '"profile_known": false' in record.inputs
    (changed,) = published(engine, SCORE_CHANGES.name, nhs)
    assert changed["band"] == "low"
    assert changed["practice_ods"] == "L85003"
    assert published(engine, HOT_ONBOARDING.name, nhs) == []


def test_admissions_older_than_twelve_months_do_not_count(engine: Engine) -> None:
    nhs = new_nhs_number()
    now = datetime.now(UTC)
    handle(engine, encounter(nhs, ADMITTED, "OLD", event_at=now - timedelta(days=400)))
    handle(engine, encounter(nhs, ADMITTED, "RECENT", event_at=now - timedelta(days=100)))
    handle(engine, encounter(nhs, EncounterEventType.DISCHARGED, "RECENT", event_at=now))
    assert current(engine, nhs).score == 7  # one admission in the window


def test_elective_admissions_do_not_count(engine: Engine) -> None:
    nhs = new_nhs_number()
    handle(engine, encounter(nhs, ADMITTED, "V1", emergency=False))
    assert current(engine, nhs).score == 0


def test_an_invalid_nhs_number_is_rejected(engine: Engine) -> None:
    with pytest.raises(RejectedEvent):
        handle(engine, encounter("9999999999", ADMITTED))


# --- hot onboarding ------------------------------------------------------------------------


def test_an_admission_that_lifts_a_patient_to_high_triggers_once_per_visit(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, moderate_risk(nhs))
    first = encounter(nhs, ADMITTED, visit_number="V100", practice_ods="L85002")
    handle(engine, first)
    # The same admission again (e.g. an A01 resent with a new control id): a new event_id.
    handle(engine, encounter(nhs, ADMITTED, visit_number="V100", practice_ods="L85002"))

    (trigger,) = published(engine, HOT_ONBOARDING.name, nhs)
    assert trigger["event_type"] == "hot_onboarding.triggered"
    assert trigger["trigger"] == "admission"
    assert trigger["trigger_event_id"] == str(first.event_id)
    assert trigger["causation_id"] == str(first.event_id)
    assert trigger["correlation_id"] == str(first.correlation_id)
    assert trigger["band"] == "high"
    assert trigger["score"] == 32  # counted this admission: 25 + 7
    assert trigger["practice_ods"] == "L85002"
    assert trigger["preferred_language"] == "en"
    assert len(triggers(engine, nhs)) == 1
    # The score change to high was published, caused by the admission.
    changes = published(engine, SCORE_CHANGES.name, nhs)
    assert [(c["previous_band"], c["band"]) for c in changes] == [
        (None, "moderate"),
        ("moderate", "high"),
    ]
    assert changes[1]["causation_id"] == str(first.event_id)


def test_a_new_visit_triggers_again(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs))
    handle(engine, encounter(nhs, ADMITTED, visit_number="V1"))
    handle(engine, encounter(nhs, ADMITTED, visit_number="V2"))
    assert len(published(engine, HOT_ONBOARDING.name, nhs)) == 2


@pytest.mark.parametrize(
    "profile_change",
    [{"on_caseload": True}, {"objects_to_contact": True}],
)
def test_no_trigger_for_caseload_or_objection(
    engine: Engine, profile_change: dict[str, bool]
) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs, **profile_change))
    handle(engine, encounter(nhs, ADMITTED))
    assert published(engine, HOT_ONBOARDING.name, nhs) == []
    assert triggers(engine, nhs) == []


def test_no_trigger_when_the_practice_is_unknown(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs, practice_ods=None))
    handle(engine, encounter(nhs, ADMITTED, practice_ods=None))
    assert published(engine, HOT_ONBOARDING.name, nhs) == []


def test_the_hospital_can_name_the_practice_when_the_profile_does_not(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs, practice_ods=None))
    handle(engine, encounter(nhs, ADMITTED, practice_ods="L85003"))
    (trigger,) = published(engine, HOT_ONBOARDING.name, nhs)
    assert trigger["practice_ods"] == "L85003"


def test_no_trigger_when_the_band_is_too_low(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, moderate_risk(nhs, conditions=["diabetes"]))  # 18, +7 = 25: moderate
    handle(engine, encounter(nhs, ADMITTED))
    assert current(engine, nhs).band == "moderate"
    assert published(engine, HOT_ONBOARDING.name, nhs) == []


def test_ae_attendance_triggers_at_the_configured_band(engine: Engine) -> None:
    very_high, high = new_nhs_number(), new_nhs_number()
    load(engine, high_risk(very_high), moderate_risk(high, efi_deficits=13))
    strict = HotOnboardingPolicy(ae_min_band="very_high")
    handle(engine, encounter(very_high, AE, visit_number="AE1"), strict)
    handle(engine, encounter(high, AE, visit_number="AE1"), strict)
    (trigger,) = published(engine, HOT_ONBOARDING.name, very_high)
    assert trigger["trigger"] == "ae_attendance"
    assert published(engine, HOT_ONBOARDING.name, high) == []
    # With the default setting (high) the high-band patient's next attendance triggers.
    handle(engine, encounter(high, AE, visit_number="AE2"))
    assert len(published(engine, HOT_ONBOARDING.name, high)) == 1


def test_a_cancelled_admission_withdraws_the_trigger_and_stops_counting(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, moderate_risk(nhs))
    admission = encounter(nhs, ADMITTED, visit_number="V7", practice_ods="L85002")
    handle(engine, admission)
    assert current(engine, nhs).band == "high"

    cancel = encounter(nhs, CANCELLED, visit_number="V7", emergency=False)
    handle(engine, cancel)

    triggered, withdrawn = published(engine, HOT_ONBOARDING.name, nhs)
    assert triggered["event_type"] == "hot_onboarding.triggered"
    assert withdrawn["event_type"] == "hot_onboarding.withdrawn"
    assert withdrawn["trigger_event_id"] == str(admission.event_id)
    assert withdrawn["causation_id"] == str(cancel.event_id)
    assert withdrawn["practice_ods"] == "L85002"
    (trigger,) = triggers(engine, nhs)
    assert trigger.withdrawn
    # The admission no longer counts: back to moderate, and that change is published too.
    assert current(engine, nhs).score == 25
    assert published(engine, SCORE_CHANGES.name, nhs)[-1]["band"] == "moderate"
    # A second cancel does nothing more.
    handle(engine, encounter(nhs, CANCELLED, visit_number="V7", emergency=False))
    assert len(published(engine, HOT_ONBOARDING.name, nhs)) == 2


def test_a_cancel_without_a_trigger_publishes_nothing(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, moderate_risk(nhs, conditions=[]))
    handle(engine, encounter(nhs, ADMITTED, visit_number="V8"))
    handle(engine, encounter(nhs, CANCELLED, visit_number="V8", emergency=False))
    assert published(engine, HOT_ONBOARDING.name, nhs) == []


def test_readmission_on_a_withdrawn_visit_triggers_again(engine: Engine) -> None:
    nhs = new_nhs_number()
    load(engine, high_risk(nhs))
    handle(engine, encounter(nhs, ADMITTED, visit_number="V9"))
    handle(engine, encounter(nhs, CANCELLED, visit_number="V9", emergency=False))
    again = encounter(nhs, ADMITTED, visit_number="V9")
    handle(engine, again)
    kinds = [e["event_type"] for e in published(engine, HOT_ONBOARDING.name, nhs)]
    assert kinds == [
        "hot_onboarding.triggered",
        "hot_onboarding.withdrawn",
        "hot_onboarding.triggered",
    ]
    (trigger,) = triggers(engine, nhs)
    assert not trigger.withdrawn
    assert trigger.trigger_event_id == again.event_id
