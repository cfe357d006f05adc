import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import structlog

from ensemble_contracts.topics import APPOINTMENTS
from ensemble_runtime.http_guard import unbounded_int_params
from scheduling.domain.coach import InvalidCoach
from scheduling.entrypoints.coaches_file import CoachesFile
from scheduling.entrypoints.http import router

from ..support import STAFF, SchedulingKit, coach, referral_event, scheduling_kit, started

ROSTER = [
    coach("C01", ["en", "hi", "PA"], "Asia/Kolkata", {"mon": [["12:30", "21:30"]]}),
    coach("C04", ["en", "pl"], "Europe/London", {"fri": [["09:00", "17:00"]]}),
]


@pytest.fixture
def kit(tmp_path: Path) -> SchedulingKit:
    return scheduling_kit(f"sqlite:///{tmp_path / 'scheduling.db'}", [coach("C09", ["en"])])


async def start_components(kit: SchedulingKit) -> None:
    """What the runtime does after migrating the store: start the definition's components."""
    for make in kit.definition.components:
        for component in make(kit.runtime):
            await component.start()


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
    kit: SchedulingKit, method: str, path: str, headers: dict[str, str]
) -> None:
    async with kit.client() as client:
        response = await client.request(method, path, json=[], headers=headers)
    assert response.status_code == 401


async def test_coaches_are_upserted_and_listed(kit: SchedulingKit) -> None:
    async with kit.client(*STAFF) as staff:
        assert (await staff.post("/v1/coaches", json=ROSTER)).json() == {"upserted": 2}
        renamed = {**ROSTER[1], "display_name": "Ola K", "active": False}
        assert (await staff.post("/v1/coaches", json=[renamed])).status_code == 200
        coaches = {c["coach_id"]: c for c in (await staff.get("/v1/coaches")).json()["coaches"]}
    assert set(coaches) == {"C01", "C04", "C09"}
    assert coaches["C01"]["languages"] == ["en", "hi", "pa"]
    assert coaches["C01"]["weekly_hours"] == {"mon": [["12:30", "21:30"]]}
    assert (coaches["C04"]["display_name"], coaches["C04"]["active"]) == ("Ola K", False)


async def test_a_bad_coach_refuses_the_whole_list(kit: SchedulingKit) -> None:
    bad = coach("C02", ["en"], "Mars/Base")
    async with kit.client(*STAFF) as staff:
        response = await staff.post("/v1/coaches", json=[ROSTER[0], bad])
        assert response.status_code == 422
        assert response.json()["detail"][0]["index"] == 1
        assert "time zone" in response.json()["detail"][0]["error"]
        repeated = await staff.post("/v1/coaches", json=[ROSTER[0], ROSTER[0]])
        assert repeated.status_code == 422
        ids = [c["coach_id"] for c in (await staff.get("/v1/coaches")).json()["coaches"]]
    assert ids == ["C09"]


async def test_appointments_are_listed_filtered_and_their_outcomes_recorded(
    kit: SchedulingKit,
) -> None:
    mine, theirs = referral_event(nhs_number="9990000018"), referral_event(nhs_number="9990000026")
    kit.consume(mine, theirs)
    async with kit.client(*STAFF) as staff:
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
        early = await staff.post(f"{path}/did-not-attend")
        assert early.status_code == 409 and "once it has started" in early.json()["detail"]
        for each in (await staff.get("/v1/appointments")).json()["appointments"]:
            started(kit, each["starts_at"])  # both sessions have begun
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
    assert [e.event_type for e in kit.published(APPOINTMENTS)] == [
        "appointment.booked",
        "appointment.booked",
        "appointment.attended",
        "appointment.did_not_attend",
        "appointment.booked",  # the DNA policy offers the session again
    ]


async def test_the_waiting_list_is_visible(tmp_path: Path) -> None:
    kit = scheduling_kit(f"sqlite:///{tmp_path / 'empty.db'}")
    event = referral_event(language="bn")
    kit.consume(event)
    async with kit.client(*STAFF) as staff:
        (entry,) = (await staff.get("/v1/waiting-list")).json()["waiting_list"]
    assert (entry["referral_id"], entry["language"], entry["reason"]) == (
        str(event.referral_id),
        "bn",
        "no_coach_for_language",
    )


async def test_a_coaches_file_is_loaded_at_startup(tmp_path: Path) -> None:
    roster = tmp_path / "coaches.json"
    roster.write_text(json.dumps(ROSTER))
    kit = scheduling_kit(f"sqlite:///{tmp_path / 's.db'}", coaches_file=str(roster))
    await start_components(kit)
    async with kit.client(*STAFF) as staff:
        coaches = (await staff.get("/v1/coaches")).json()["coaches"]
    assert [c["coach_id"] for c in coaches] == ["C01", "C04"]


async def test_a_bad_coaches_file_stops_the_start(tmp_path: Path) -> None:
    roster = tmp_path / "coaches.json"
    roster.write_text(json.dumps([coach("C01", ["en"], "Nowhere/City")]))
    kit = scheduling_kit(f"sqlite:///{tmp_path / 's.db'}", coaches_file=str(roster))
    with pytest.raises(InvalidCoach):
        await start_components(kit)
    async with kit.client(*STAFF) as staff:
        assert (await staff.get("/v1/coaches")).json()["coaches"] == []  # nothing stored


def test_the_coaches_file_is_a_component_only_when_set(tmp_path: Path) -> None:
    roster = tmp_path / "coaches.json"
    with_file = scheduling_kit(f"sqlite:///{tmp_path / 'a.db'}", coaches_file=str(roster))
    without = scheduling_kit(f"sqlite:///{tmp_path / 'b.db'}")
    (made,) = [c for make in with_file.definition.components for c in make(with_file.runtime)]
    assert isinstance(made, CoachesFile)
    assert [c for make in without.definition.components for c in make(without.runtime)] == []


# --- hostile input: 4xx with nothing echoed, never a 5xx --------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"coach_id": "C" * 51}, "coach_id"),
        ({"coach_id": ""}, "coach_id"),
        ({"display_name": "D" * 101}, "display_name"),
        ({"languages": ["en-" + "a" * 33]}, "languages"),
        ({"languages": ["en"] * 21}, "languages"),
        ({"languages": [7]}, "languages"),
        ({"timezone": "Europe/" + "a" * 58}, "timezone"),
        (
            {
                "weekly_hours": {
                    d: [] for d in ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "x"]
                }
            },
            "weekly_hours",
        ),
        ({"weekly_hours": {"mon": [["09:00", "12:00", "17:00"]]}}, "weekly_hours"),
        ({"weekly_hours": {"mon": [["09:00:00", "12:00"]]}}, "weekly_hours"),
        ({"weekly_hours": {"mon": [["09:00", "12:00"]] * 49}}, "weekly_hours"),
        ({"weekly_hours": {"m" * 11: []}}, "weekly_hours"),
        ({"active": "perhaps"}, "active"),
    ],
)
async def test_coach_fields_beyond_their_bounds_are_422(
    kit: SchedulingKit, change: dict[str, Any], field: str
) -> None:
    async with kit.client(*STAFF) as staff:
        response = await staff.post("/v1/coaches", json=[{**ROSTER[0], **change}])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][:3] == ["body", 0, field]
    assert set(error) == {"type", "loc", "msg"}  # the value is never repeated


async def test_too_many_coaches_at_once_is_422(kit: SchedulingKit) -> None:
    many = [coach(f"C{i}", ["en"]) for i in range(1001)]
    async with kit.client(*STAFF) as staff:
        response = await staff.post("/v1/coaches", json=many)
        assert response.status_code == 422
        assert (await staff.post("/v1/coaches", json=many[:1000])).json() == {"upserted": 1000}


@pytest.mark.parametrize(
    "body",
    [
        b"[",
        b'[{"coach_id": "C01", "display_name": "\\ud800", "languages": ["en"], "timezone": "UTC"}]',
        b'[{"coach_id": "C01", "display_name": "\\u0000", "languages": ["en"], "timezone": "UTC"}]',
        b'[{"coach_id": "C01", "display_name": "x", "languages": ["en"], "timezone": "UTC", '
        b'"active": NaN}]',
        b"[" * 10_000 + b"]" * 10_000,
        b"[" + str(10**30).encode() + b"]",
        b'[{"coach_id": "caf\xe9"}]',
    ],
    ids=["syntax", "surrogate", "nul", "nan", "deep", "huge-int", "latin-1"],
)
async def test_malformed_json_is_422_for_staff_and_401_for_anyone_else(
    kit: SchedulingKit, body: bytes
) -> None:
    headers = {"Content-Type": "application/json"}
    async with kit.client() as anonymous:
        denied = await anonymous.post("/v1/coaches", content=body, headers=headers)
        assert (denied.status_code, denied.json()) == (401, {"detail": "missing bearer token"})
    async with kit.client(*STAFF) as staff:
        refused = await staff.post("/v1/coaches", content=body, headers=headers)
        assert refused.status_code == 422
        ids = [c["coach_id"] for c in (await staff.get("/v1/coaches")).json()["coaches"]]
    assert ids == ["C09"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": str(10**30)},
        {"limit": str(-(10**30))},
        {"limit": "9" * 5000},
        {"limit": "0"},
        {"limit": "1001"},
        {"nhs_number": "99900000180"},
        {"nhs_number": "999000001\x00"},
        {"nhs_number": "9990000018\n"},
        {"coach_id": "C" * 51},
        {"coach_id": "C09\x00"},
        {"referral_id": "not-a-uuid"},
        {"status": "\x00"},
    ],
)
async def test_query_parameters_beyond_their_bounds_are_422(
    kit: SchedulingKit, params: dict[str, str]
) -> None:
    async with kit.client(*STAFF) as staff:
        assert (await staff.get("/v1/appointments", params=params)).status_code == 422
    async with kit.client() as anonymous:
        assert (await anonymous.get("/v1/appointments", params=params)).status_code == 401


def test_no_route_takes_an_unbounded_integer() -> None:
    assert unbounded_int_params([router]) == []


async def test_staff_requests_are_audited(kit: SchedulingKit) -> None:
    event = referral_event(nhs_number="9990000018")
    kit.consume(event)
    with structlog.testing.capture_logs() as logs:
        async with kit.client(*STAFF) as staff:
            await staff.get("/v1/appointments", params={"nhs_number": "9990000018"})
            await staff.post(f"/v1/appointments/{uuid4()}/cancel")
        async with kit.client() as anonymous:
            await anonymous.get("/v1/waiting-list")
    audit = [line for line in logs if line["event"] == "audit"]
    assert [(a["principal"], a["method"], a["route"], a["status"]) for a in audit] == [
        (STAFF[1], "GET", "/v1/appointments", 200),
        (STAFF[1], "POST", "/v1/appointments/{appointment_id}/cancel", 404),
    ]
    assert "9990000018" not in json.dumps(logs)
