"""Enrolments and the outcomes report on SQLite and PostgreSQL: the same answers."""

from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import pytest

from ensemble_contracts.hospital import EncounterEventType
from scoring.adapters.orm import OutcomeEnrolment
from scoring.adapters.outcome_views import Selection, outcome_rows
from scoring.adapters.unit_costs import unit_costs
from scoring.benchmark.outcomes import bench_outcomes
from scoring.domain.outcome_report import report
from scoring.domain.outcomes import Use

from ..outcome_support import ENROLLED_ON, PRACTICE, appointment, referral, seed_practice
from ..support import NHS_NUMBERS, NOW, Kit, encounter, patient_rows, scoring_kit

T = EncounterEventType


@pytest.fixture
def store(database_url: str) -> Iterator[Kit]:
    kit = scoring_kit(database_url)
    yield kit
    kit.dispose()


def test_the_report_reads_the_same_from_either_store(store: Kit) -> None:
    seeded = seed_practice(store)
    # A stay across the enrolment date: two midnights before it, three after.
    admitted = ENROLLED_ON - timedelta(days=2)
    store.consume(encounter(seeded.enrolled, T.ADMITTED, visit_number="S1", event_at=admitted))
    discharged = ENROLLED_ON + timedelta(days=3)
    store.consume(encounter(seeded.enrolled, T.DISCHARGED, visit_number="S1", event_at=discharged))
    # Cancelled attendances do not count.
    visit = uuid4().hex[:10]
    ae = ENROLLED_ON + timedelta(days=5)
    store.consume(encounter(seeded.enrolled, T.AE_ATTENDANCE, visit_number=visit, event_at=ae))
    store.consume(encounter(seeded.enrolled, T.ADMISSION_CANCELLED, visit_number=visit))

    rows = store.read(outcome_rows, Selection(practice=PRACTICE), NOW.date())
    by_nhs = {(row.nhs_number, row.role): row for row in rows}
    enrolled = by_nhs[(seeded.enrolled, "enrolled")].period
    assert enrolled.index_date == ENROLLED_ON.date() and enrolled.follow_up_days == 180
    assert enrolled.before == Use(ae_attendances=4, emergency_admissions=1, bed_days=2)
    assert enrolled.after_observed == Use(ae_attendances=1, emergency_admissions=0, bed_days=3)
    comparison = by_nhs[(seeded.comparison, "comparison")]
    assert comparison.matched_to == seeded.enrolled
    assert comparison.period.after_observed.ae_attendances == 3
    assert (seeded.other_enrolled, "enrolled") in by_nhs
    answer = report(rows, unit_costs(), {})
    assert answer["summary"]["enrolled"]["pam_level"]["mean_change"] == 1.0
    assert answer["summary"]["comparison"]["patients"] == 1


def test_enrolments_are_kept_through_replays_and_merges(store: Kit) -> None:
    retired, surviving, referral_id = next(NHS_NUMBERS), next(NHS_NUMBERS), uuid4()
    activation = referral(retired, "active", referral_id, occurred_at=ENROLLED_ON)
    session = appointment(retired, referral_id, ENROLLED_ON + timedelta(days=1))
    assert store.consume(activation, session, activation, session)[2:] == ["duplicate"] * 2
    # Surviving already enrolled, later: the merge keeps one enrolment with the earlier date.
    later = ENROLLED_ON + timedelta(days=30)
    store.consume(referral(surviving, "active", uuid4(), occurred_at=later))
    merged = referral(surviving, "active", referral_id, event_type="referral.patient_merged")
    store.consume(merged)
    assert patient_rows(store, OutcomeEnrolment, retired) == []  # type: ignore[type-var]
    [kept] = patient_rows(store, OutcomeEnrolment, surviving)  # type: ignore[type-var]
    assert kept.activated_at == ENROLLED_ON and kept.sessions_attended == 1
    assert kept.first_attended_at == ENROLLED_ON + timedelta(days=1)


def test_the_outcomes_bench_seeds_a_population_and_reports_over_it(database_url: str) -> None:
    measured = bench_outcomes(database_url, 3000)
    assert measured["patients"] == 3000 and measured["enrolled"] == measured["enrolments_seeded"]
    assert measured["enrolled"] > 0 and measured["comparison"] > 0
    assert measured["rows"] == measured["enrolled"] + measured["comparison"]
    before = measured["enrolled_before"]
    assert before["ae_attendances"] > 0 and before["bed_days"] > 0  # events and stays were read
