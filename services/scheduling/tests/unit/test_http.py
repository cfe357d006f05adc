import json
from pathlib import Path
from uuid import uuid4

import pytest

from scheduling.bootstrap import bootstrap
from scheduling.domain.coach import InvalidCoach

from ..support import STAFF, Harness, coach, referral_event, service_on, settings

ROSTER = [
    coach("C01", ["en", "hi", "PA"], "Asia/Kolkata", {"mon": [["12:30", "21:30"]]}),
    coach("C04", ["en", "pl"], "Europe/London", {"fri": [["09:00", "17:00"]]}),
]


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return service_on(f"sqlite:///{tmp_path / 'scheduling.db'}", [coach("C09", ["en"])])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/coaches"),
        ("POST", "/v1/coaches"),
        ("GET", "/v1/appointments"),
        ("POST", f"/v1/appointments/{uuid4()}/attended"),
        ("POST", f"/v1/appointments/{uuid4()}/did-not-attend"),
        ("POST", f"/v1/appointments/{uuid4()}/cancel"),
        ("GET", "/v1/waiting-list"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "x"}])
async def test_every_endpoint_needs_a_staff_token(
    harness: Harness, method: str, path: str, headers: dict[str, str]
) -> None:
    async with harness.client(headers) as client:
        response = await client.request(method, path, json=[])
    assert response.status_code == 401


async def test_coaches_are_upserted_and_listed(harness: Harness) -> None:
    async with harness.client(STAFF) as staff:
        assert (await staff.post("/v1/coaches", json=ROSTER)).json() == {"upserted": 2}
        renamed = {**ROSTER[1], "display_name": "Ola K", "active": False}
        assert (await staff.post("/v1/coaches", json=[renamed])).status_code == 200
        coaches = {c["coach_id"]: c for c in (await staff.get("/v1/coaches")).json()["coaches"]}
    assert set(coaches) == {"C01", "C04", "C09"}
    assert coaches["C01"]["languages"] == ["en", "hi", "pa"]
    assert coaches["C01"]["weekly_hours"] == {"mon": [["12:30", "21:30"]]}
    assert (coaches["C04"]["display_name"], coaches["C04"]["active"]) == ("Ola K", False)


async def test_a_bad_coach_refuses_the_whole_list(harness: Harness) -> None:
    bad = coach("C02", ["en"], "Mars/Base")
    async with harness.client(STAFF) as staff:
        response = await staff.post("/v1/coaches", json=[ROSTER[0], bad])
        assert response.status_code == 422
        assert response.json()["detail"][0]["index"] == 1
        assert "time zone" in response.json()["detail"][0]["error"]
        repeated = await staff.post("/v1/coaches", json=[ROSTER[0], ROSTER[0]])
        assert repeated.status_code == 422
        ids = [c["coach_id"] for c in (await staff.get("/v1/coaches")).json()["coaches"]]
    assert ids == ["C09"]


async def test_appointments_are_listed_filtered_and_their_outcomes_recorded(
    harness: Harness,
) -> None:
    mine, theirs = referral_event(nhs_number="9990000018"), referral_event(nhs_number="9990000026")
    harness.consume(mine, theirs)
    async with harness.client(STAFF) as staff:
        listed = (await staff.get("/v1/appointments", params={"nhs_number": "9990000018"})).json()
        (appointment,) = listed["appointments"]
        assert appointment["referral_id"] == str(mine.referral_id)
        assert (appointment["coach_id"], appointment["language"], appointment["status"]) == (
            "C09",
            "en",
            "booked",
        )
        assert appointment["starts_at"].endswith("+00:00")
        path = f"/v1/appointments/{appointment['appointment_id']}"
        attended = await staff.post(f"{path}/attended")
        assert (attended.status_code, attended.json()["status"]) == (200, "attended")
        assert (await staff.post(f"{path}/cancel")).status_code == 409
        assert (await staff.post(f"/v1/appointments/{uuid4()}/cancel")).status_code == 404
        by_status = await staff.get("/v1/appointments", params={"status": "booked"})
        assert [a["nhs_number"] for a in by_status.json()["appointments"]] == ["9990000026"]
        by_coach = await staff.get("/v1/appointments", params={"coach_id": "C09"})
        assert len(by_coach.json()["appointments"]) == 2
        assert (await staff.get("/v1/appointments", params={"status": "gone"})).status_code == 422
        other = by_status.json()["appointments"][0]["appointment_id"]
        missed = await staff.post(f"/v1/appointments/{other}/did-not-attend")
        assert missed.json()["status"] == "did_not_attend"
    assert [e.event_type for e in harness.published()] == [
        "appointment.booked",
        "appointment.booked",
        "appointment.attended",
        "appointment.did_not_attend",
    ]


async def test_the_waiting_list_is_visible(tmp_path: Path) -> None:
    harness = service_on(f"sqlite:///{tmp_path / 'empty.db'}")
    event = referral_event(language="bn")
    harness.consume(event)
    async with harness.client(STAFF) as staff:
        (entry,) = (await staff.get("/v1/waiting-list")).json()["waiting_list"]
    assert (entry["referral_id"], entry["language"], entry["reason"]) == (
        str(event.referral_id),
        "bn",
        "no_coach_for_language",
    )


async def test_a_coaches_file_is_loaded_at_startup(tmp_path: Path) -> None:
    roster = tmp_path / "coaches.json"
    roster.write_text(json.dumps(ROSTER))
    harness = service_on(f"sqlite:///{tmp_path / 's.db'}", coaches_file=str(roster))
    async with harness.client(STAFF) as staff:
        coaches = (await staff.get("/v1/coaches")).json()["coaches"]
    assert [c["coach_id"] for c in coaches] == ["C01", "C04"]


def test_a_bad_coaches_file_stops_the_start(tmp_path: Path) -> None:
    roster = tmp_path / "coaches.json"
    roster.write_text(json.dumps([coach("C01", ["en"], "Nowhere/City")]))
    with pytest.raises(InvalidCoach):
        bootstrap(settings(f"sqlite:///{tmp_path / 's.db'}", coaches_file=str(roster)))
