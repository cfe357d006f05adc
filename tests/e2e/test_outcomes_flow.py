"""Outcomes across four processes on real Kafka: a GP's coaching referral is booked by the
real scheduling service; scoring enrols the patient when the referral is activated, keeps the
appointment events scheduling publishes, and counts the patient in the practice's report."""

import csv
import io

import pytest

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
COACH = {
    "coach_id": "E2E-OUTCOMES",
    "display_name": "Sam",
    "languages": ["en"],
    "timezone": "Europe/London",
    "weekly_hours": {d: [["08:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def test_an_activated_referral_and_its_appointment_events_reach_the_outcomes(
    ensemble: Ensemble,
) -> None:
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.load_profiles(
        [{"nhs_number": nhs, "practice_ods": "L85001", "birth_date": "1950-02-03",
          "conditions": ["diabetes", "copd"], "pam_level": 2, "repeat_medicines": 4}]
    )  # fmt: skip
    ensemble.load_coaches([COACH])
    created = ensemble.client.post(
        ensemble.url("referral", "/v1/referrals"),
        json={"nhs_number": nhs, "service": "health_coaching", "preferred_language": "en"},
        headers=ensemble.practice("L85001"),
    )
    assert created.status_code == 201, created.text
    referral = created.json()["referral_id"]
    ensemble.ready_to_accept(referral)
    ensemble.referral_step(referral, "accept")
    programme = wait_for(lambda: ensemble.appointments_for(nhs), 30, "the programme booked")
    # Activation (the coach assigned) enrols the patient: no session can be attended before it
    # starts, and the real scheduling books the first one in the future.
    coach = {"role": "coach", "worker_id": "E2E-OUTCOMES", "worker_name": "Sam",
             "supervisor_id": "SUP01", "supervisor_name": "Sam Supervisor"}  # fmt: skip
    ensemble.referral_step(referral, "assign", coach)
    ensemble.referral_step(referral, "activate")
    enrolled = wait_for(
        lambda: ensemble.count(
            "scoring",
            "SELECT count(*) FROM outcome_enrolments WHERE nhs_number = ? AND programme = ? "
            "AND activated_at IS NOT NULL AND pam_level = 2 AND practice_ods = ?",
            nhs,
            "health_coaching",
            "L85001",
        ),
        30,
        "scoring enrolled the patient from referral.activated",
    )
    assert enrolled == 1
    # The last session cancelled: scheduling's appointment event reaches scoring's outcomes.
    last = max(programme, key=lambda a: a["session_number"])
    cancelled = ensemble.client.post(
        ensemble.url("scheduling", f"/v1/appointments/{last['appointment_id']}/cancel"),
        json={"by": "patient"},
        headers=ensemble.staff(),
    )
    assert cancelled.status_code == 200, cancelled.text
    kept = wait_for(
        lambda: ensemble.count(
            "scoring",
            "SELECT count(*) FROM outcome_sessions WHERE nhs_number = ? AND attended = ? "
            "AND programme = ?",
            nhs,
            False,
            "health_coaching",
        ),
        30,
        "scoring kept the cancelled appointment",
    )
    assert kept == 1
    sessions = ensemble.count(
        "scoring", "SELECT sessions_attended FROM outcome_enrolments WHERE nhs_number = ?", nhs
    )
    assert sessions == 0  # cancelled is not attended
    report = ensemble.client.get(
        ensemble.url("scoring", "/v1/outcomes"), headers=ensemble.practice("L85001")
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["filters"]["practice"] == "L85001"
    assert body["summary"]["enrolled"]["patients"] >= 1
    assert "health_coaching" in [g["programme"] for g in body["by_programme"]]
    # The export names the patient: enrolled today (no follow-up yet), no session attended.
    export = ensemble.client.get(
        ensemble.url("scoring", "/v1/outcomes"),
        params={"format": "csv", "rows": "patients"},
        headers=ensemble.practice("L85001"),
    )
    assert export.status_code == 200, export.text
    [line] = [row for row in csv.DictReader(io.StringIO(export.text)) if row["nhs_number"] == nhs]
    assert (line["role"], line["programme"], line["practice_ods"]) == (
        "enrolled",
        "health_coaching",
        "L85001",
    )
    assert line["sessions"] == "0" and line["after_ae_attendances_per_year"] == ""
    other = ensemble.client.get(
        ensemble.url("scoring", "/v1/outcomes"),
        params={"practice": "L85001"},
        headers=ensemble.practice("L85002"),
    )
    assert other.status_code == 403
