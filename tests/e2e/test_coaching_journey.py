"""A GP's referral to health coaching in Punjabi, across four processes on real Kafka: a
Punjabi-speaking coach in Mumbai, the programme at the right local times, the DNA policy."""

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
LONDON, KOLKATA = ZoneInfo("Europe/London"), ZoneInfo("Asia/Kolkata")
MUMBAI_COACH = {
    "coach_id": "E2E-PA-MUMBAI",
    "display_name": "Gurpreet",
    "languages": ["pa", "en"],
    "timezone": "Asia/Kolkata",
    # 13:30-21:30 IST is 08:00-16:00 in London in winter, 09:00-17:00 in summer.
    "weekly_hours": {d: [["13:30", "21:30"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def minutes(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


def local(appointment: dict[str, Any], zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(appointment["starts_at"]).astimezone(zone)


def test_a_punjabi_coaching_referral_is_booked_in_mumbai_and_a_second_dna_tells_the_gp(
    ensemble: Ensemble,
) -> None:
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.load_coaches([MUMBAI_COACH])
    roster = ensemble.client.get(
        ensemble.url("scheduling", "/v1/coaches"), headers=ensemble.staff()
    )
    coaches = {c["coach_id"]: c for c in roster.json()["coaches"]}
    created = ensemble.client.post(
        ensemble.url("referral", "/v1/referrals"),
        json={"nhs_number": nhs, "service": "health_coaching", "preferred_language": "pa"},
        headers=ensemble.practice("L85001"),
    )
    assert created.status_code == 201, created.text
    referral = created.json()["referral_id"]
    # The referral service's lifecycle: triage, consent, then acceptance (referral.accepted).
    triaged = ensemble.client.post(
        ensemble.url("referral", f"/v1/referrals/{referral}/triage"),
        json={"priority": "routine"},
        headers=ensemble.staff(),
    )
    assert triaged.status_code == 200, triaged.text
    consent = ensemble.client.post(
        ensemble.url("referral", f"/v1/referrals/{referral}/consent"),
        json={"decision": "given", "method": "phone"},
        headers=ensemble.staff(),
    )
    assert consent.status_code == 200, consent.text
    accepted = ensemble.client.post(
        ensemble.url("referral", f"/v1/referrals/{referral}/accept"), headers=ensemble.staff()
    )
    assert accepted.status_code == 200, accepted.text

    programme = wait_for(lambda: ensemble.appointments_for(nhs), 30, "the programme booked")
    assert [(a["kind"], a["session_number"]) for a in programme] == [
        ("first", 1),
        ("follow_up", 2),
        ("follow_up", 3),
        ("follow_up", 4),
        ("review", 5),
    ]
    (coach_id,) = {a["coach_id"] for a in programme}  # continuity: one coach throughout
    coach = coaches[coach_id]
    assert "pa" in coach["languages"] and coach["timezone"] == "Asia/Kolkata"
    assert {(a["language"], a["practice_ods"], a["status"]) for a in programme} == {
        ("pa", "L85001", "booked")
    }
    for appointment in programme:
        at_coach, at_patient = local(appointment, KOLKATA), local(appointment, LONDON)
        day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[at_coach.weekday()]
        periods = coach["weekly_hours"][day]
        assert any(
            minutes(datetime.strptime(s, "%H:%M")) <= minutes(at_coach)
            and minutes(at_coach) + 30 <= minutes(datetime.strptime(e, "%H:%M"))
            for s, e in periods
        ), f"{at_coach} is outside the coach's hours"
        assert 8 * 60 <= minutes(at_patient) <= 20 * 60 - 30  # the patient's day in London
    starts = [datetime.fromisoformat(a["starts_at"]) for a in programme]
    assert all(b - a >= timedelta(days=14) for a, b in pairwise(starts))

    first = programme[0]["appointment_id"]
    missed = ensemble.client.post(
        ensemble.url("scheduling", f"/v1/appointments/{first}/did-not-attend"),
        headers=ensemble.staff(),
    )
    assert missed.status_code == 200, missed.text

    def reoffer() -> dict[str, Any] | None:
        offers = [
            a
            for a in ensemble.appointments_for(nhs)
            if a["session_number"] == 1 and a["status"] == "booked"
        ]
        return offers[0] if offers else None

    offered = reoffer()  # the DNA policy answers within the same request
    assert offered is not None and offered["coach_id"] == coach_id
    second = ensemble.client.post(
        ensemble.url("scheduling", f"/v1/appointments/{offered['appointment_id']}/did-not-attend"),
        headers=ensemble.staff(),
    )
    assert second.status_code == 200, second.text
    after = {a["appointment_id"]: a for a in ensemble.appointments_for(nhs)}
    later = [after[a["appointment_id"]] for a in programme[1:]]
    assert {(a["status"], a["changed_by"]) for a in later} == {("cancelled", "policy")}
    escalations = wait_for(
        lambda: ensemble.count(
            "scheduling",
            "SELECT count(*) FROM outbox WHERE event_type = 'appointment.dna_escalated' "
            "AND key = ?",
            nhs,
        ),
        10,
        "the referrer told",
    )
    assert escalations == 1
    closed = ensemble.count(
        "scheduling",
        "SELECT count(*) FROM programmes WHERE nhs_number = ? AND status = 'closed'",
        nhs,
    )
    assert closed == 1
    # The coach's calendar feed shows the programme on the coach's clock, cancellations too.
    feed = ensemble.client.get(
        ensemble.url("scheduling", f"/v1/coaches/{coach_id}/calendar.ics"),
        headers=ensemble.staff(),
    )
    assert feed.status_code == 200 and b"TZID:Asia/Kolkata" in feed.content
    text = feed.content.decode()
    for appointment in programme:
        assert f"UID:{appointment['appointment_id']}@scheduling.ensemble" in text
    ensemble.load_coaches([{**MUMBAI_COACH, "active": False}])  # leave others' tests alone
