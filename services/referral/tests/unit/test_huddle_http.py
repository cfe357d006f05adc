"""The huddle API through ASGI: staff only, clear refusals that change nothing, the sheet."""

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from ensemble_contracts.hospital import EncounterEventType
from ensemble_devkit.testkit import ServiceKit, tokens
from referral.config import Settings
from referral.service import DEFINITION

from ..huddle_support import agenda, on_caseload
from ..support import Kit, encounter

PATIENT = "9990000018"
MONDAY = "2026-11-23"  # the kit's clock starts at 09:00 UTC that day
URL = f"/v1/teams/complex_care/huddles/{MONDAY}"


def staff(kit: Kit) -> httpx.AsyncClient:
    return kit.client("staff", "staff")


def with_news(kit: Kit) -> None:
    on_caseload(kit, PATIENT)
    kit.consume(
        encounter(
            PATIENT,
            occurred_at=kit.clock.advance(minutes=5),
            event_type=EncounterEventType.AE_ATTENDANCE,
        )
    )


async def opened_item(kit: Kit) -> str:
    async with staff(kit) as member:
        created = await member.post(URL)
    assert created.status_code == 201, created.text
    item_id: str = created.json()["items"][0]["item_id"]
    return item_id


def action(**changes: Any) -> dict[str, Any]:
    return (
        {"text": "ask the ward for the discharge plan", "owner_id": "KW01"}
        | {"due_on": "2026-11-24"}
        | changes
    )


async def test_staff_open_a_huddle_add_an_action_and_mark_it_done(kit: Kit) -> None:
    with_news(kit)
    item_id = await opened_item(kit)
    async with staff(kit) as member:
        again = await member.post(URL)
        added = await member.post(f"{URL}/items/{item_id}/actions", json=action())
        read = await member.get(URL)
        done = await member.post(f"{URL}/actions/{added.json()['action_id']}/done")
        sheet = await member.get(f"{URL}/sheet")
    assert (again.status_code, added.status_code, read.status_code) == (200, 201, 200)
    assert added.json()["owner_name"] == "Kim Keyworker"
    (item,) = read.json()["items"]
    assert (item["kind"], item["nhs_number"], item["actions"][0]["owner_id"]) == (
        "ae_attendance",
        PATIENT,
        "KW01",
    )
    assert (done.status_code, done.json()["open"], done.json()["done_by"]) == (200, False, "staff")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/html")
    assert "<script" not in sheet.text
    assert '<th scope="col">NHS number</th>' in sheet.text
    assert '<th scope="row">A&amp;E attendance</th>' in sheet.text
    assert "999 000 0018" in sheet.text


async def test_an_unknown_owner_or_a_past_due_date_is_422_and_nothing_is_stored(
    kit: Kit,
) -> None:
    with_news(kit)
    item_id = await opened_item(kit)
    yesterday = (date.fromisoformat(MONDAY) - timedelta(days=1)).isoformat()
    async with staff(kit) as member:
        unknown = await member.post(
            f"{URL}/items/{item_id}/actions", json=action(owner_id="NOBODY")
        )
        past = await member.post(f"{URL}/items/{item_id}/actions", json=action(due_on=yesterday))
        control = await member.post(
            f"{URL}/items/{item_id}/actions", json=action(text="bad\x00text")
        )
    assert (unknown.status_code, past.status_code, control.status_code) == (422, 422, 422)
    assert unknown.json()["detail"] == "'NOBODY' is not a known member of this team"
    assert past.json()["detail"] == "an action cannot be due before today (2026-11-23)"
    assert agenda(kit, "complex_care", date.fromisoformat(MONDAY))["items"][0]["actions"] == []


async def test_non_staff_tokens_are_refused(kit: Kit) -> None:
    with_news(kit)
    item_id = await opened_item(kit)
    async with kit.client("practice", "L85001") as gp:
        answers = [
            await gp.post(URL),
            await gp.get(URL),
            await gp.get(f"{URL}/sheet"),
            await gp.post(f"{URL}/items/{item_id}/actions", json=action()),
        ]
    async with kit.client() as anonymous:
        anonymous.headers["Authorization"] = "Bearer nonsense"
        unknown = await anonymous.get(URL)
    assert [a.status_code for a in answers] == [403] * 4
    assert answers[0].json()["detail"] == "only staff hold huddles"
    assert unknown.status_code == 401


async def test_bad_teams_dates_items_and_actions_are_clear_4xx(kit: Kit) -> None:
    with_news(kit)
    await opened_item(kit)
    missing = "00000000-0000-4000-8000-000000000000"
    async with staff(kit) as member:
        team = await member.post(f"/v1/teams/coaching/huddles/{MONDAY}")
        bad_date = await member.post("/v1/teams/complex_care/huddles/2026-02-30")
        no_huddle = await member.get("/v1/teams/complex_care/huddles/2026-11-30")
        no_item = await member.post(f"{URL}/items/{missing}/actions", json=action())
        no_action = await member.post(f"{URL}/actions/{missing}/done")
        next_year = await member.post("/v1/teams/complex_care/huddles/2027-11-26")
        later = await member.post("/v1/teams/complex_care/huddles/2026-11-26")
        earlier = await member.post("/v1/teams/complex_care/huddles/2026-11-24")
    assert team.status_code == 422 and "team must be a service" in team.json()["detail"]
    assert bad_date.status_code == 422
    assert (no_huddle.status_code, no_item.status_code, no_action.status_code) == (404, 404, 404)
    assert no_item.json()["detail"] == "no such item on this huddle's agenda"
    assert next_year.status_code == 422  # a typo would lock out every huddle before it
    assert next_year.json()["detail"] == (
        "a huddle can be opened at most 7 days ahead (on or before 2026-11-30, London)"
    )
    assert later.status_code == 201
    assert earlier.status_code == 409
    assert "already met on 2026-11-26" in earlier.json()["detail"]


async def test_an_action_is_done_only_through_its_own_team(kit: Kit) -> None:
    with_news(kit)
    item_id = await opened_item(kit)
    async with staff(kit) as member:
        added = await member.post(f"{URL}/items/{item_id}/actions", json=action())
        action_id = added.json()["action_id"]
        other = await member.post(
            f"/v1/teams/health_coaching/huddles/{MONDAY}/actions/{action_id}/done"
        )
        read = await member.get(URL)
    assert other.status_code == 404
    assert read.json()["items"][0]["actions"][0]["open"] is True


async def test_a_roster_adds_members_who_are_assigned_to_no_referral(tmp_path: Path) -> None:
    roster = {"complex_care": {"GP01": "Dr Gill"}, "complex_care.L85002": {"PH01": "Pat"}}
    kit = ServiceKit(
        DEFINITION,
        f"sqlite:///{tmp_path / 'roster.db'}",
        practice_tokens=tokens("practice", "L85001"),
        staff_tokens=tokens("staff", "staff"),
        huddle_roster=json.dumps(roster),
    )
    try:
        with_news(kit)
        item_id = await opened_item(kit)
        async with staff(kit) as member:
            gp = await member.post(f"{URL}/items/{item_id}/actions", json=action(owner_id="GP01"))
            other = await member.post(
                f"{URL}/items/{item_id}/actions", json=action(owner_id="PH01")
            )
            read = await member.get(URL)
        assert (gp.status_code, gp.json()["owner_name"]) == (201, "Dr Gill")
        assert other.status_code == 422  # L85002's roster is not the whole team's
        assert [m["id"] for m in read.json()["members"]] == ["GP01", "KW01", "SUP01"]
    finally:
        kit.dispose()


def test_a_bad_roster_refuses_to_start() -> None:
    for bad in ('["KW01"]', '{"coaching": {"KW01": "Kim"}}', '{"complex_care": {"K W": "Kim"}}'):
        with pytest.raises(ValidationError):
            Settings(huddle_roster=bad)
