"""The coaching team's HTTP for capacity, preferences, reschedules and cancellations."""

from pathlib import Path
from uuid import uuid4

import pytest

from ensemble_contracts.topics import APPOINTMENTS
from ensemble_devkit.testkit import FrozenClock

from ..support import (
    STAFF,
    SchedulingKit,
    coach,
    referral_event,
    scheduling_kit,
    started,
    utc,
)

NOW = utc(2027, 1, 4, 0, 0)  # a Monday
WEEKDAYS_IST = {d: [["13:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
MUMBAI = {
    **coach("P01", ["pa", "en"], "Asia/Kolkata", WEEKDAYS_IST),
    "wte": 0.5,
    "leave": [["2027-01-25", "2027-01-29"]],
}


@pytest.fixture
def kit(tmp_path: Path) -> SchedulingKit:
    return scheduling_kit(f"sqlite:///{tmp_path / 's.db'}", [MUMBAI], FrozenClock(NOW))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/coaches/P01/load?month=2027-01"),
        ("PUT", "/v1/patients/9990000018/preferences"),
        ("POST", f"/v1/appointments/{uuid4()}/reschedule"),
        ("POST", "/v1/programmes"),
    ],
)
async def test_the_new_routes_need_a_staff_token(
    kit: SchedulingKit, method: str, path: str
) -> None:
    async with kit.client() as client:
        assert (await client.request(method, path, json={})).status_code == 401


async def test_the_load_view_counts_a_coachs_local_month_against_the_wte_target(
    kit: SchedulingKit,
) -> None:
    kit.consume(*[referral_event(language="pa") for _ in range(3)])
    async with kit.client(*STAFF) as staff:
        load = (await staff.get("/v1/coaches/P01/load", params={"month": "2027-01"})).json()
        assert (await staff.get("/v1/coaches/P01/load?month=2027-13")).status_code == 422
        assert (await staff.get("/v1/coaches/NOPE/load?month=2027-01")).status_code == 404
    assert {k: load[k] for k in ("target", "booked", "remaining", "leave_days", "wte")} == {
        "target": 200,  # 400 a month per whole-time coach
        "booked": 3,
        "remaining": 197,
        "leave_days": 5,
        "wte": 0.5,
    }
    assert load["working_hours"] == (21 - 5) * 8  # 21 weekdays in January, 5 on leave


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"languages": ["zz"]}, "known ISO 639"),
        ({"team": "surgery"}, "team"),
        ({"wte": 1.5}, "wte"),
        ({"leave": [["2027-02-01", "2027-01-01"]]}, "leave"),
        ({"leave": [["soon", "later"]]}, "leave"),
    ],
)
async def test_coaches_that_cannot_be_scheduled_get_422_and_nothing_is_stored(
    kit: SchedulingKit, change: dict[str, object], reason: str
) -> None:
    async with kit.client(*STAFF) as staff:
        response = await staff.post("/v1/coaches", json=[coach("X1", ["en"]), {**MUMBAI, **change}])
        assert response.status_code == 422 and reason in response.text
        listed = (await staff.get("/v1/coaches")).json()["coaches"]
    assert [c["coach_id"] for c in listed] == ["P01"]
    assert listed[0]["leave"] == [["2027-01-25", "2027-01-29"]]


async def test_reschedules_and_cancellations_over_http(kit: SchedulingKit) -> None:
    kit.consume(referral_event(language="pa"), referral_event(language="pa"))
    async with kit.client(*STAFF) as staff:
        first, second = (await staff.get("/v1/appointments")).json()["appointments"]
        path = f"/v1/appointments/{first['appointment_id']}"
        gap = {"by": "patient", "starts_at": "2027-03-28T01:30", "timezone": "Europe/London"}
        refused = await staff.post(f"{path}/reschedule", json=gap)
        assert refused.status_code == 422 and "does not exist" in refused.text
        night = {"by": "coach", "starts_at": "2027-01-05T23:00"}  # the coach's own clock
        assert (await staff.post(f"{path}/reschedule", json=night)).status_code == 422
        clash = {"by": "coach", "starts_at": second["starts_at"]}
        assert (await staff.post(f"{path}/reschedule", json=clash)).status_code == 409
        assert (await staff.post(f"{path}/reschedule", json={"by": "policy"})).status_code == 422
        moved = await staff.post(
            f"{path}/reschedule", json={"by": "patient", "starts_at": "2027-01-06T14:00"}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["starts_at"] == "2027-01-06T08:30:00+00:00"  # 14:00 IST
        cancelled = await staff.post(f"{path}/cancel", json={"by": "coach", "reason": "ill"})
        assert (cancelled.status_code, cancelled.json()["changed_by"]) == (200, "coach")
        again = await staff.post(f"{path}/reschedule", json={"by": "patient"})
        assert again.status_code == 409 and "cancelled" in again.text


async def test_patient_preferences_are_checked(kit: SchedulingKit) -> None:
    async with kit.client(*STAFF) as staff:
        path = "/v1/patients/9990000018/preferences"
        ok = await staff.put(path, json={"timezone": "Europe/London", "day_start": "09:00"})
        assert ok.json()["day_start"] == "09:00" and ok.json()["day_end"] == "20:00"
        for bad in (
            {"timezone": "Mars/Base"},
            {"timezone": "UTC", "day_start": "18:00", "day_end": "09:00"},
            {"timezone": "UTC", "day_start": "25:00"},
        ):
            assert (await staff.put(path, json=bad)).status_code == 422
        assert (
            await staff.put("/v1/patients/12/preferences", json={"timezone": "UTC"})
        ).status_code == 422


async def test_a_paused_programme_is_shown_and_resumed_by_staff(tmp_path: Path) -> None:
    kit = scheduling_kit(
        f"sqlite:///{tmp_path / 'p.db'}",
        [MUMBAI],
        FrozenClock(NOW),
        follow_ups=2,
        second_dna_action="pause",
    )
    referral = referral_event(language="pa")
    kit.consume(referral)
    path = f"/v1/programmes/{referral.referral_id}"
    async with kit.client(*STAFF) as staff:
        assert (await staff.post(f"{path}/resume")).status_code == 409  # active, not paused
        for _ in range(2):  # two DNAs of the first session: offered again, then paused
            sessions = (await staff.get(path)).json()["sessions"]
            first = next(
                s for s in sessions if s["session_number"] == 1 and s["status"] == "booked"
            )
            started(kit, first["starts_at"])
            missed = await staff.post(f"/v1/appointments/{first['appointment_id']}/did-not-attend")
            assert missed.status_code == 200
        paused = (await staff.get(path)).json()
        assert (paused["status"], paused["dna_count"]) == ("paused", 2)
        assert {s["status"] for s in paused["sessions"]} == {"did_not_attend", "cancelled"}
        resumed = await staff.post(f"{path}/resume")
        assert resumed.status_code == 200
        body = resumed.json()
        assert (body["status"], body["dna_count"]) == ("active", 0)
        booked = [s["session_number"] for s in body["sessions"] if s["status"] == "booked"]
        assert sorted(booked) == [1, 2, 3]
        assert (await staff.post(f"/v1/programmes/{uuid4()}/resume")).status_code == 404
        assert (await staff.get(f"/v1/programmes/{uuid4()}")).status_code == 404


async def test_staff_book_an_accepted_referral_directly_once(kit: SchedulingKit) -> None:
    referral = {
        "referral_id": str(uuid4()),
        "nhs_number": "9990000018",
        "practice_ods": "L85001",
        "service": "health_coaching",
        "preferred_language": "pa",
    }
    async with kit.client(*STAFF) as staff:
        booked = await staff.post("/v1/programmes", json=referral)
        assert booked.status_code == 201, booked.text
        (session,) = booked.json()["sessions"]
        assert (session["coach_id"], session["language"], session["status"]) == (
            "P01",
            "pa",
            "booked",
        )
        again = await staff.post("/v1/programmes", json=referral)  # a retried request
        assert again.status_code == 200 and again.json()["sessions"] == [session]
        for bad in ({**referral, "nhs_number": "12"}, {**referral, "service": "dentistry"}):
            assert (await staff.post("/v1/programmes", json=bad)).status_code == 422
    assert [e.event_type for e in kit.published(APPOINTMENTS)] == ["appointment.booked"]
