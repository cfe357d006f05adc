"""The hot-onboarding decision on its own."""

from dataclasses import replace

import pytest

from ensemble_contracts.hospital import EncounterEventType
from scoring.domain.hot_onboarding import TriggerCheck, decide, trigger_kind, withdraws

ADMISSION = TriggerCheck(
    event_type=EncounterEventType.ADMITTED,
    emergency=True,
    practice_ods="L85001",
    band="high",
    on_caseload=False,
    objects_to_contact=False,
    already_triggered=False,
)


def test_an_emergency_admission_of_a_high_band_patient_triggers() -> None:
    decision = decide(ADMISSION)
    assert decision.fires
    assert decision.trigger == "admission"


def test_an_ae_attendance_triggers_as_ae() -> None:
    decision = decide(replace(ADMISSION, event_type=EncounterEventType.AE_ATTENDANCE))
    assert decision.trigger == "ae_attendance"


@pytest.mark.parametrize(
    "change",
    [
        {"emergency": False},
        {"event_type": EncounterEventType.DISCHARGED},
        {"event_type": EncounterEventType.TRANSFERRED},
        {"practice_ods": None},
        {"practice_ods": ""},
        {"band": "moderate"},
        {"band": "low"},
        {"on_caseload": True},
        {"objects_to_contact": True},
        {"already_triggered": True},
    ],
)
def test_no_trigger(change: dict[str, object]) -> None:
    decision = decide(replace(ADMISSION, **change))  # type: ignore[arg-type]
    assert not decision.fires
    assert decision.why


def test_the_ae_minimum_band_is_a_setting() -> None:
    ae = replace(ADMISSION, event_type=EncounterEventType.AE_ATTENDANCE, ae_min_band="very_high")
    assert not decide(ae).fires
    assert decide(replace(ae, band="very_high")).fires
    # Admissions keep their own minimum (high).
    assert decide(replace(ADMISSION, ae_min_band="very_high")).fires


def test_kinds_and_withdrawals() -> None:
    assert trigger_kind(EncounterEventType.ADMITTED, emergency=False) is None
    assert trigger_kind(EncounterEventType.AE_ATTENDANCE, emergency=False) == "ae_attendance"
    assert withdraws(EncounterEventType.ADMISSION_CANCELLED)
    assert not withdraws(EncounterEventType.DISCHARGE_CANCELLED)
