"""Enrolments from referral and appointment events, and the outcomes report over HTTP."""

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from ensemble_contracts.scheduling import AppointmentEventType
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.orm import OutcomeEnrolment, OutcomeSession

from ..outcome_support import (
    ENROLLED_ON,
    PRACTICE,
    appointment,
    outcomes_kit,
    referral,
    seed_practice,
)
from ..support import NHS_NUMBERS, NOW, STAFF, Kit, high_risk, load, patient_rows


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    kit = outcomes_kit(tmp_path)
    yield kit
    kit.dispose()


def enrolments(kit: Kit, nhs: str) -> list[OutcomeEnrolment]:
    return patient_rows(kit, OutcomeEnrolment, nhs)  # type: ignore[type-var]


def test_an_activation_enrols_with_the_profile_of_the_day_as_baseline(kit: Kit) -> None:
    nhs, referral_id = next(NHS_NUMBERS), uuid4()
    load(kit, high_risk(nhs, pam_level=2, as_of="2026-05-01"))
    kit.consume(referral(nhs, "active", referral_id, occurred_at=ENROLLED_ON))
    [enrolment] = enrolments(kit, nhs)
    assert (enrolment.programme, enrolment.referral_id) == ("health_coaching", referral_id)
    assert enrolment.activated_at == ENROLLED_ON and enrolment.first_attended_at is None
    assert (enrolment.band, enrolment.pam_level, enrolment.repeat_medicines) == ("very_high", 2, 12)
    assert enrolment.practice_ods == PRACTICE and enrolment.sessions_attended == 0

    kit.consume(referral(nhs, "completed", referral_id, occurred_at=NOW))
    [ended] = enrolments(kit, nhs)
    assert ended.ended_at == NOW and ended.activated_at == ENROLLED_ON


def test_attended_sessions_count_once_each_and_the_first_one_dates_the_enrolment(kit: Kit) -> None:
    nhs, referral_id = next(NHS_NUMBERS), uuid4()
    kit.consume(referral(nhs, "active", referral_id, occurred_at=ENROLLED_ON - timedelta(days=5)))
    first = appointment(nhs, referral_id, ENROLLED_ON)
    second = appointment(nhs, referral_id, ENROLLED_ON + timedelta(days=7))
    assert kit.consume(first, second, first) == ["processed", "processed", "duplicate"]
    # The same appointment attended again under a new event id (a resend) is still one.
    kit.consume(appointment(nhs, referral_id, ENROLLED_ON, appointment_id=first.appointment_id))
    [enrolment] = enrolments(kit, nhs)
    assert enrolment.sessions_attended == 2 and enrolment.first_attended_at == ENROLLED_ON

    # Marked did-not-attend later: no longer a session. An older event never undoes it.
    dna = appointment(
        nhs,
        referral_id,
        ENROLLED_ON + timedelta(days=7),
        AppointmentEventType.DID_NOT_ATTEND,
        appointment_id=second.appointment_id,
        occurred_at=second.occurred_at + timedelta(days=1),
    )
    stale = appointment(
        nhs,
        referral_id,
        ENROLLED_ON + timedelta(days=7),
        appointment_id=second.appointment_id,
        occurred_at=second.occurred_at,
    )
    kit.consume(dna, stale)
    [enrolment] = enrolments(kit, nhs)
    assert enrolment.sessions_attended == 1


def test_a_version_1_appointment_takes_its_programme_from_the_referral(kit: Kit) -> None:
    nhs, referral_id = next(NHS_NUMBERS), uuid4()
    kit.consume(referral(nhs, "accepted", referral_id, service="complex_care"))
    kit.consume(appointment(nhs, referral_id, ENROLLED_ON, service=None, practice_ods=None))
    [enrolment] = enrolments(kit, nhs)
    assert enrolment.programme == "complex_care" and enrolment.sessions_attended == 1
    # A cancellation or DNA before any session enrols no one.
    other = next(NHS_NUMBERS)
    kit.consume(appointment(other, uuid4(), ENROLLED_ON, AppointmentEventType.CANCELLED))
    assert enrolments(kit, other) == []
    assert len(patient_rows(kit, OutcomeSession, other)) == 1  # type: ignore[type-var]


def test_a_merge_moves_the_enrolment_and_its_sessions_to_the_surviving_number(kit: Kit) -> None:
    retired, surviving, referral_id = next(NHS_NUMBERS), next(NHS_NUMBERS), uuid4()
    kit.consume(referral(retired, "active", referral_id, occurred_at=ENROLLED_ON))
    kit.consume(appointment(retired, referral_id, ENROLLED_ON + timedelta(days=1)))
    kit.consume(referral(surviving, "active", referral_id, event_type="referral.patient_merged"))
    assert enrolments(kit, retired) == []
    [moved] = enrolments(kit, surviving)
    assert moved.sessions_attended == 1 and moved.activated_at == ENROLLED_ON
    assert [s.nhs_number for s in patient_rows(kit, OutcomeSession, surviving)] == [surviving]  # type: ignore[type-var]


def test_an_invalid_nhs_number_or_an_unknown_programme_is_rejected(kit: Kit) -> None:
    with pytest.raises(RejectedEvent):  # the runtime dead-letters it
        kit.consume(appointment("9999999999", uuid4(), ENROLLED_ON))
    assert patient_rows(kit, OutcomeSession, "9999999999") == []  # type: ignore[type-var]
    nhs = next(NHS_NUMBERS)
    with pytest.raises(RejectedEvent, match="programme"):
        kit.consume(appointment(nhs, uuid4(), ENROLLED_ON, service="yoga"))
    assert patient_rows(kit, OutcomeSession, nhs) == []  # type: ignore[type-var]


# --- the report over HTTP ------------------------------------------------------------------


async def test_the_report_shows_the_enrolled_against_their_comparison_group(kit: Kit) -> None:
    seeded = seed_practice(kit)
    async with kit.client("staff", STAFF) as staff:
        response = await staff.get("/v1/outcomes", params={"practice": PRACTICE})
    assert response.status_code == 200, response.text
    summary = response.json()["summary"]
    ours, theirs = summary["enrolled"], summary["comparison"]
    assert (ours["patients"], ours["followed_up"], ours["unmatched"]) == (2, 2, 1)
    assert theirs["patients"] == 1
    assert theirs["before"]["ae_attendances"] == 4.0
    assert theirs["after"]["ae_attendances"] == pytest.approx(3 * 365 / 180, abs=1e-3)
    # The enrolled: 4 before and 1 since (the second enrolled patient used none).
    assert ours["before"]["ae_attendances"] == 2.0
    assert ours["after"]["ae_attendances"] == pytest.approx(365 / 180 / 2, abs=1e-3)
    assert summary["net_change"]["ae_attendances"] < 0
    assert ours["pam_level"] == {"measured": 1, "mean_change": 1.0, "went_up": 1, "went_down": 0}
    assert ours["repeat_medicines"]["mean_change"] == -2.0
    roi = summary["roi"]
    assert roi["sessions"] == 4 and roi["programme_cost_gbp"] == 160.0  # 4 x 40 (packaged)
    assert roi["savings_adjusted_gbp"] is not None and roi["return_per_pound"] is not None
    body = response.json()
    assert [g["practice"] for g in body["by_practice"]] == [PRACTICE]
    assert [g["programme"] for g in body["by_programme"]] == ["health_coaching"]
    assert "National Cost Collection" in body["unit_costs_gbp"]["sources"]["ae_attendance"]
    assert seeded.enrolled not in response.text  # the JSON report is aggregate only


async def test_each_practice_reads_only_its_own_outcomes(kit: Kit) -> None:
    seed_practice(kit)
    async with kit.client("practice", PRACTICE) as own:
        mine = await own.get("/v1/outcomes")
        assert mine.status_code == 200 and mine.json()["filters"]["practice"] == PRACTICE
        assert (await own.get("/v1/outcomes", params={"practice": "L85002"})).status_code == 403
    async with kit.client("practice", "L85002") as other:
        theirs = (await other.get("/v1/outcomes")).json()
        assert theirs["summary"]["enrolled"]["patients"] == 0
    async with kit.client() as anyone:
        assert (await anyone.get("/v1/outcomes")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await anyone.get("/v1/outcomes/page", headers=wrong)).status_code == 401


async def test_bad_filters_are_400_or_422_with_the_reason(kit: Kit) -> None:
    async with kit.client("staff", STAFF) as staff:
        cohort = await staff.get("/v1/outcomes", params={"cohort": "no_such"})
        assert cohort.status_code == 400 and "risk_in_two_domains" in cohort.json()["detail"]
        practice = await staff.get("/v1/outcomes", params={"practice": "L8-5"})
        assert practice.status_code == 400 and "ODS" in practice.json()["detail"]
        programme = await staff.get("/v1/outcomes", params={"programme": "yoga"})
        assert programme.status_code == 422


async def test_the_csv_exports_groups_and_patients(kit: Kit) -> None:
    seeded = seed_practice(kit)
    async with kit.client("staff", STAFF) as staff:
        groups = await staff.get("/v1/outcomes", params={"format": "csv"})
        patients = await staff.get("/v1/outcomes", params={"format": "csv", "rows": "patients"})
    assert groups.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(groups.text)))
    summary = [line for line in lines if line["grouping"] == "summary"]
    assert [line["role"] for line in summary] == ["enrolled", "comparison"]
    assert summary[0]["patients"] == "2" and summary[0]["programme_cost_gbp"] == "160.0"
    rows = list(csv.DictReader(io.StringIO(patients.text)))
    by_nhs = {row["nhs_number"]: row for row in rows}
    assert by_nhs[seeded.comparison]["role"] == "comparison"
    assert by_nhs[seeded.comparison]["matched_to"] == seeded.enrolled
    assert by_nhs[seeded.enrolled]["before_ae_attendances"] == "4"
    assert by_nhs[seeded.enrolled]["index_date"] == ENROLLED_ON.date().isoformat()
    assert by_nhs[seeded.enrolled]["pam_change"] == "1"


async def test_the_page_is_accessible_html_with_svg_charts_and_tables(kit: Kit) -> None:
    seed_practice(kit)
    async with kit.client("staff", STAFF) as staff:
        page = await staff.get("/v1/outcomes/page", params={"programme": "health_coaching"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    html = page.text
    assert '<html lang="en-GB">' in html and "<h1>" in html and html.count("<h2") == 4
    assert html.count('role="img"') == 3 and 'aria-labelledby="chart-ae_attendances-title' in html
    assert "<caption>A&amp;E attendances per patient</caption>" in html
    assert "regression to the mean" in html and "Comparison group" in html
