"""A GP's referral to health coaching in Punjabi, across four processes on real Kafka: a
Punjabi-speaking coach in Mumbai, the programme at the right local times, the DNA policy."""

import json
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session

from ensemble_contracts.topics import APPOINTMENTS
from scheduling.adapters.orm import Appointment

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


def earliest_mumbai_slot(now: datetime) -> datetime:
    """The coach's first free half hour at least the lead time (60 min) after `now`: her grid
    is 13:30, 14:00, ... 21:00 IST on weekdays, inside the patient's London day all year."""
    day = now.astimezone(KOLKATA).date()
    while True:
        for step in range(16):
            start = datetime.combine(day, time(13, 30), KOLKATA) + timedelta(minutes=30 * step)
            if day.weekday() < 5 and start >= now + timedelta(minutes=60):
                return start
        day += timedelta(days=1)


def session_has_begun(ensemble: Ensemble, appointment_id: str, hours_ago: int) -> None:
    """Stand in for the clock: the session is moved into the past in scheduling's store, so
    its outcome may be recorded (an outcome before the start is refused)."""
    engine = create_engine(ensemble.system.database_url("scheduling"))
    try:
        with Session(engine) as session:
            appointment = session.get(Appointment, UUID(appointment_id))
            assert appointment is not None
            length = appointment.ends_at - appointment.starts_at
            now = datetime.now(UTC).replace(microsecond=0)
            appointment.starts_at = now - timedelta(hours=hours_ago)
            appointment.ends_at = appointment.starts_at + length
            session.add(appointment)
            session.commit()
    finally:
        engine.dispose()


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
    # The first session is her earliest free half hour; each follow-up is 14 days after the
    # one before and the review 28 days after the last, at the same time on her clock, which
    # is one hour later on the patient's clock once the UK is on summer time.
    starts = [local(a, KOLKATA) for a in programme]
    booked_at = datetime.fromisoformat(programme[0]["created_at"])
    assert starts[0] == earliest_mumbai_slot(booked_at)
    assert [b - a for a, b in pairwise(starts)] == [timedelta(days=d) for d in (14, 14, 14, 28)]
    assert {(s.hour, s.minute) for s in starts} == {(starts[0].hour, starts[0].minute)}
    for start in starts:
        london = start.astimezone(LONDON)
        summer = london.dst() != timedelta(0)
        assert london.utcoffset() == timedelta(hours=1 if summer else 0)
        assert london.replace(tzinfo=None) == start.replace(tzinfo=None) - timedelta(
            hours=4.5 if summer else 5.5
        )
    # The coach's diary shows each session on her clock with the patient's London time.
    diary = ensemble.client.get(
        ensemble.url("scheduling", f"/v1/coaches/{coach_id}/diary"),
        params={"days": 62},
        headers=ensemble.staff(),
    )
    assert diary.status_code == 200 and "Asia/Kolkata" in diary.text
    for start in [s for s in starts if s < booked_at + timedelta(days=61)]:  # the page's days
        assert f'<time datetime="{start.isoformat()}">{start:%H:%M}-' in diary.text
        at_patient = start.astimezone(LONDON)
        assert f'<time datetime="{at_patient.isoformat()}">{at_patient:%H:%M %Z}' in diary.text

    first = programme[0]["appointment_id"]
    early = ensemble.client.post(
        ensemble.url("scheduling", f"/v1/appointments/{first}/did-not-attend"),
        headers=ensemble.staff(),
    )
    assert early.status_code == 409 and "once it has started" in early.json()["detail"]
    session_has_begun(ensemble, first, hours_ago=2)
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
    assert local(offered, KOLKATA) < starts[1]  # offered again before the next session
    others = [a for a in ensemble.appointments_for(nhs) if a["session_number"] > 1]
    assert {(a["status"], a["starts_at"]) for a in others} == {
        ("booked", a["starts_at"]) for a in programme[1:]
    }  # offered once: the rest of the programme stands
    session_has_begun(ensemble, offered["appointment_id"], hours_ago=1)
    second = ensemble.client.post(
        ensemble.url("scheduling", f"/v1/appointments/{offered['appointment_id']}/did-not-attend"),
        headers=ensemble.staff(),
    )
    assert second.status_code == 200, second.text
    after = {a["appointment_id"]: a for a in ensemble.appointments_for(nhs)}
    later = [after[a["appointment_id"]] for a in programme[1:]]
    assert {(a["status"], a["changed_by"]) for a in later} == {("cancelled", "policy")}
    # The referrer is told on the topic: the escalation names the practice and the outcome.
    events = [json.loads(r) for r in ensemble.topic_records(APPOINTMENTS.name, {nhs}, 13)]
    assert Counter(e["event_type"] for e in events) == {
        "appointment.booked": 6,  # the programme and the one re-offer
        "appointment.did_not_attend": 2,
        "appointment.dna_escalated": 1,
        "appointment.cancelled": 4,  # the rest of the programme, by the policy
    }
    (escalated,) = [e for e in events if e["event_type"] == "appointment.dna_escalated"]
    assert (escalated["practice_ods"], escalated["dna_count"]) == ("L85001", 2)
    assert escalated["programme_status"] == "closed"
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
