"""Bed days, inpatient status, merges (A40) and practice changes on a store: what the handlers
record and how the scores follow. Bed days and "in hospital now" score only in a model that
reads them (1.2.0); the active 1.0.0 scores as before."""

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.orm import CurrentScore, HospitalStay, Patient
from scoring.adapters.packaged_models import packaged_text
from scoring.domain.model_file import read_model
from scoring.service_layer.commands import ActivateModel, RescorePage

from ..support import (
    NHS_NUMBERS,
    Kit,
    current,
    encounter,
    load,
    moderate_risk,
    patient_rows,
    published,
    stored_encounters,
)
from .test_ageing import scan

T = EncounterEventType
CANDIDATE = "ensemble-risk-1.2.0"


def activate(kit: Kit, version: str = CANDIDATE) -> None:
    source = packaged_text(version)
    kit.execute(ActivateModel(read_model(source), source, "alice"))
    after: str | None = ""
    while after is not None:
        after = kit.execute(RescorePage(after, 500)).last


def event(nhs: str, kind: str, days_ago: float, kit: Kit, **more: Any) -> EncounterEvent:
    at = kit.clock() - timedelta(days=days_ago)
    base = encounter(nhs, kind, visit_number=more.pop("visit", "V1"), event_at=at)
    return base.model_copy(update={"emergency": more.pop("emergency", True), **more})


def inputs(kit: Kit, nhs: str) -> dict[str, Any]:
    return dict(json.loads(current(kit, nhs).inputs))


def test_bed_days_and_inpatient_status_follow_admission_discharge_and_its_cancel(kit: Kit) -> None:
    activate(kit)
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))  # 25
    kit.consume(event(nhs, T.ADMITTED, 10, kit))
    assert inputs(kit, nhs)["bed_days_12m"] == 10
    assert inputs(kit, nhs)["currently_inpatient"] is True
    assert current(kit, nhs).score == 25 + 7 + 4  # admission, >= 7 bed days
    assert "in_hospital_now" in current(kit, nhs).reasons

    kit.consume(event(nhs, T.DISCHARGED, 6, kit))
    assert (inputs(kit, nhs)["bed_days_12m"], inputs(kit, nhs)["currently_inpatient"]) == (4, False)
    assert current(kit, nhs).score == 25 + 7

    kit.consume(event(nhs, T.DISCHARGE_CANCELLED, 5, kit))  # A13: still in after all
    assert (inputs(kit, nhs)["bed_days_12m"], inputs(kit, nhs)["currently_inpatient"]) == (
        10,
        True,
    )
    kit.consume(event(nhs, T.ADMISSION_CANCELLED, 4, kit))  # A11: the visit never happened
    assert (inputs(kit, nhs)["bed_days_12m"], inputs(kit, nhs)["currently_inpatient"]) == (0, False)
    assert patient_rows(kit, HospitalStay, nhs) == []


def test_leave_of_absence_and_a_class_change_are_honoured(kit: Kit) -> None:
    activate(kit)
    leave, changed = next(NHS_NUMBERS), next(NHS_NUMBERS)
    kit.consume(event(leave, T.ADMITTED, 10, kit), event(leave, T.LEAVE_STARTED, 4, kit))
    assert (inputs(kit, leave)["bed_days_12m"], inputs(kit, leave)["currently_inpatient"]) == (
        6,
        False,
    )
    assert patient_rows(kit, HospitalStay, leave)[0].last_out is None  # the bed is kept
    kit.consume(event(leave, T.LEAVE_ENDED, 1, kit))
    assert (inputs(kit, leave)["bed_days_12m"], inputs(kit, leave)["currently_inpatient"]) == (
        7,
        True,
    )
    kit.consume(event(changed, T.ADMITTED, 9, kit))
    to_outpatient = {"patient_class": "O", "previous_patient_class": "I"}
    kit.consume(event(changed, T.CLASS_CHANGED, 3, kit, **to_outpatient))
    assert inputs(kit, changed)["bed_days_12m"] == 6
    assert inputs(kit, changed)["currently_inpatient"] is False


def test_the_active_1_0_0_scores_an_inpatient_as_before(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    kit.consume(event(nhs, T.ADMITTED, 30, kit), event(nhs, T.LEAVE_STARTED, 2, kit))
    assert current(kit, nhs).score == 25 + 7
    assert "bed_days_12m" not in inputs(kit, nhs)  # 1.0.0 reads no bed days
    assert scan(kit) == (0, 0)  # nor does its ageing scan look at stays


def test_the_ageing_scan_ages_bed_days_of_open_and_ended_stays(kit: Kit) -> None:
    activate(kit)
    growing, leaving = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, moderate_risk(growing, repeat_medicines=4), moderate_risk(leaving))  # 29, 25
    kit.consume(event(growing, T.ADMITTED, 5, kit, emergency=False))  # 5 bed days: 29
    kit.consume(
        event(leaving, T.ADMITTED, 380, kit, emergency=False),
        event(leaving, T.DISCHARGED, 355, kit),  # 10 bed days still in the window: 29
    )
    assert (current(kit, growing).band, current(kit, leaving).score) == ("moderate", 29)
    scan(kit)  # the first scan sets the mark

    kit.clock.advance(days=3)
    assert scan(kit) == (2, 1)
    assert (current(kit, growing).score, current(kit, growing).band) == (33, "high")
    assert published(kit, SCORE_CHANGES, growing)[-1].previous_band == "moderate"
    assert inputs(kit, leaving)["bed_days_12m"] == 7  # still 4 points
    kit.clock.advance(days=1)
    scan(kit)
    assert (current(kit, leaving).score, inputs(kit, leaving)["bed_days_12m"]) == (25, 6)


def test_a_merge_moves_the_retired_numbers_history_without_counting_a_visit_twice(
    kit: Kit,
) -> None:
    surviving, retired = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, moderate_risk(surviving, as_of="2026-01-01"))  # 25: moderate
    load(
        kit,
        {"nhs_number": retired, "is_carer": True, "practice_ods": "L85009", "as_of": "2025-06-01"},
    )
    kit.consume(event(surviving, T.ADMITTED, 20, kit))  # 32: high
    kit.consume(event(retired, T.ADMITTED, 20, kit))  # the same visit, under the other number
    kit.consume(event(retired, T.AE_ATTENDANCE, 40, kit, visit="AE9"))
    kit.consume(event(retired, T.DISCHARGED, 15, kit))
    assert current(kit, surviving).band == "high"
    changes_before = len(published(kit, SCORE_CHANGES, retired))

    merge = event(surviving, T.MERGED, 0, kit, visit=None, merged_from_nhs_number=retired)
    kit.consume(merge)
    kit.consume(merge)  # a redelivery changes nothing

    kept = sorted(e.event_type for e in stored_encounters(kit, surviving))
    assert kept == sorted([T.ADMITTED, T.AE_ATTENDANCE, T.DISCHARGED, T.MERGED])
    assert stored_encounters(kit, retired) == []
    use = inputs(kit, surviving)
    assert (use["emergency_admissions_12m"], use["ae_attendances_12m"]) == (1, 1)
    assert current(kit, surviving).score == 25 + 7 + 3
    assert published(kit, SCORE_CHANGES, surviving)[-1].band == "high"  # no change: none sent
    assert len([e for e in published(kit, SCORE_CHANGES, surviving) if e.band == "high"]) == 1
    stay = patient_rows(kit, HospitalStay, surviving)
    assert [(s.visit_number, s.last_out is not None) for s in stay] == [("V1", True)]

    (profile,) = patient_rows(kit, Patient, surviving)
    assert profile.is_carer is True  # a fact only the retired number's extract had
    assert profile.practice_ods == "L85002"  # the newer extract wins a field both give
    assert patient_rows(kit, Patient, retired) == []
    assert current(kit, retired).score == 0  # the retired number now holds nothing
    retired_changes = published(kit, SCORE_CHANGES, retired)
    assert len(retired_changes) == changes_before  # low before (3 + 7 = 10) and after: none


def test_a_merge_that_names_no_retired_number_is_refused(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    with pytest.raises(RejectedEvent, match="merged_from"):
        kit.consume(event(nhs, T.MERGED, 0, kit))
    with pytest.raises(RejectedEvent, match="itself"):
        kit.consume(event(nhs, T.MERGED, 0, kit, merged_from_nhs_number=nhs))


def test_a_practice_change_moves_the_patient_to_the_new_practices_worklist(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    kit.consume(event(nhs, T.PRACTICE_CHANGED, 0, kit, practice_ods="L85009"))

    def row(session: Session) -> CurrentScore:
        return session.exec(select(CurrentScore).where(CurrentScore.nhs_number == nhs)).one()

    assert kit.read(row).practice_ods == "L85009"
    assert patient_rows(kit, Patient, nhs)[0].practice_ods == "L85009"
    assert len(published(kit, SCORE_CHANGES, nhs)) == 1  # the first score only: no band moved


def test_an_event_type_added_later_is_skipped(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    future = encounter(nhs).model_copy(update={"event_type": "encounter.teleported"})
    assert kit.consume(future) == ["ignored"]
    assert stored_encounters(kit, nhs) == []


visit_kinds = st.sets(
    st.tuples(
        st.sampled_from(["V1", "V2", "V3", "V4"]), st.sampled_from([T.ADMITTED, T.AE_ATTENDANCE])
    ),
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(visit_kinds, visit_kinds)
def test_a_merge_on_the_store_never_loses_a_visit_nor_counts_one_twice(
    kit: Kit, surviving_side: set[tuple[str, str]], retired_side: set[tuple[str, str]]
) -> None:
    surviving, retired = next(NHS_NUMBERS), next(NHS_NUMBERS)
    for nhs, side in ((surviving, surviving_side), (retired, retired_side)):
        for visit, kind in sorted(side):
            kit.consume(event(nhs, kind, 5, kit, visit=visit))
    kit.consume(event(surviving, T.MERGED, 0, kit, visit=None, merged_from_nhs_number=retired))
    both = surviving_side | retired_side
    use = inputs(kit, surviving)
    assert use["emergency_admissions_12m"] == len({v for v, k in both if k == T.ADMITTED})
    assert use["ae_attendances_12m"] == len({v for v, k in both if k == T.AE_ATTENDANCE})
    assert stored_encounters(kit, retired) == []


def test_a_retired_number_never_scored_gets_no_score(kit: Kit) -> None:
    surviving, retired = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, moderate_risk(surviving))
    kit.consume(event(surviving, T.MERGED, 0, kit, visit=None, merged_from_nhs_number=retired))
    assert published(kit, SCORE_CHANGES, retired) == []
    assert len(published(kit, SCORE_CHANGES, surviving)) == 1  # its first score only
