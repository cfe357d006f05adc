"""The coach's iCalendar feed and diary page: DST-correct on both sides, staff or secret link."""

from datetime import datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from ensemble_devkit.testkit import FrozenClock
from scheduling.domain.appointment import ChangedBy
from scheduling.service_layer.commands import CancelAppointment, RescheduleAppointment

from ..support import STAFF, SchedulingKit, coach, referral_event, scheduling_kit, utc

TEN_IST = {d: [["10:00", "10:30"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def kit(tmp_path: Path) -> SchedulingKit:
    """A Mumbai coach seeing one patient weekly across the March clock change in London."""
    kit = scheduling_kit(
        f"sqlite:///{tmp_path / 's.db'}",
        [coach("K", ["pa"], "Asia/Kolkata", TEN_IST)],
        FrozenClock(utc(2027, 3, 22)),
        follow_ups=1,
        follow_up_interval_days=7,
    )
    kit.consume(referral_event(language="pa"))
    return kit


def events(body: bytes) -> list[dict[str, object]]:
    feed = Calendar.from_ical(body)
    return [
        {
            "start": e.decoded("dtstart"),
            "tzid": e["dtstart"].params.get("TZID"),
            "sequence": int(e.get("sequence", 0)),
            "status": str(e.get("status")),
            "summary": str(e.get("summary")),
        }
        for e in feed.walk("VEVENT")
    ]


async def test_the_feed_keeps_ten_in_kolkata_and_moves_the_hour_in_london(
    kit: SchedulingKit,
) -> None:
    async with kit.client(*STAFF) as staff:
        response = await staff.get("/v1/coaches/K/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VTIMEZONE" in response.content and b"TZID:Asia/Kolkata" in response.content
    found = events(response.content)
    starts = [e["start"] for e in found if isinstance(e["start"], datetime)]
    assert len(starts) == 2
    assert [f"{s:%H:%M}" for s in starts] == ["10:00", "10:00"]
    assert [s.astimezone(LONDON).strftime("%H:%M") for s in starts] == ["04:30", "05:30"]
    assert {e["tzid"] for e in found} == {"Asia/Kolkata"}
    assert all("9990" not in str(e["summary"]) for e in found)  # no NHS numbers in a feed


async def test_moves_and_cancellations_reach_the_feed(kit: SchedulingKit) -> None:
    async with kit.client(*STAFF) as staff:
        first, second = (await staff.get("/v1/appointments")).json()["appointments"]
    kit.execute(
        RescheduleAppointment(
            UUID(first["appointment_id"]),
            ChangedBy.COACH,
            None,
            datetime(2027, 3, 24, 10, 0),
        )
    )
    kit.execute(CancelAppointment(UUID(second["appointment_id"]), ChangedBy.PATIENT))
    async with kit.client(*STAFF) as staff:
        found = events((await staff.get("/v1/coaches/K/calendar.ics")).content)
    assert [(e["sequence"], e["status"]) for e in found] == [(1, "CONFIRMED"), (0, "CANCELLED")]


async def test_a_secret_link_opens_the_feed_until_it_is_revoked(kit: SchedulingKit) -> None:
    async with kit.client() as anyone, kit.client(*STAFF) as staff:
        assert (await anyone.get("/v1/coaches/K/calendar.ics")).status_code == 401
        assert (await anyone.post("/v1/coaches/K/calendar-link")).status_code == 401
        issued = await staff.post("/v1/coaches/K/calendar-link")
        assert issued.status_code == 201
        link, diary = issued.json()["calendar"], issued.json()["diary"]
        assert (await anyone.get(link)).status_code == 200
        assert (await anyone.get(diary)).status_code == 200
        assert (await anyone.get(link.replace("K/", "X/"))).status_code == 401  # not another's
        rotated = (await staff.post("/v1/coaches/K/calendar-link")).json()["calendar"]
        assert (await anyone.get(link)).status_code == 401  # a new link revokes the old
        assert (await staff.delete("/v1/coaches/K/calendar-link")).status_code == 204
        assert (await anyone.get(rotated)).status_code == 401
        assert (await staff.delete("/v1/coaches/K/calendar-link")).status_code == 404
        assert (await staff.post("/v1/coaches/NOPE/calendar-link")).status_code == 404


async def test_the_diary_page_is_in_the_coachs_time_with_the_patients_beside_it(
    kit: SchedulingKit,
) -> None:
    async with kit.client(*STAFF) as staff:
        page = await staff.get("/v1/coaches/K/diary", params={"days": 14})
        assert (
            await staff.get("/v1/coaches/K/diary?patient_timezone=Nowhere/Else")
        ).status_code == 422
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="en-GB">' in html and '<th scope="col">' in html and "<caption>" in html
    assert html.count(">10:00-10:30</time>") == 2
    assert "04:30 GMT" in html and "05:30 BST" in html
    assert "Monday 22 March 2027" in html and "Monday 29 March 2027" in html
