"""The lifecycle's HTTP API through ASGI: who may do what, the worklist, notes, and
refusals that are clear and change nothing."""

from typing import Any
from uuid import uuid4

import httpx

from ..support import Kit, published, stored, trigger

BODY = {"nhs_number": "9990000026", "service": "complex_care", "reason": "frailty"}
ASSIGN = {
    "role": "keyworker",
    "worker_id": "K7",
    "worker_name": "Kim Keyworker",
    "supervisor_id": "S2",
    "supervisor_name": "Sam Supervisor",
}
CONSENT = {"decision": "given", "method": "phone"}


def staff(kit: Kit) -> httpx.AsyncClient:
    return kit.client("staff", "staff")


def practice(kit: Kit, ods: str = "L85001") -> httpx.AsyncClient:
    return kit.client("practice", ods)


async def refer(kit: Kit, nhs_number: str = "9990000026") -> str:
    async with practice(kit) as gp:
        created = await gp.post("/v1/referrals", json=BODY | {"nhs_number": nhs_number})
    assert created.status_code == 201
    referral_id: str = created.json()["referral_id"]
    return referral_id


async def test_staff_walk_a_referral_to_discharge(kit: Kit) -> None:
    referral_id = await refer(kit)
    url = f"/v1/referrals/{referral_id}"
    async with staff(kit) as member:
        answers = [
            await member.post(f"{url}/triage", json={"priority": "high"}),
            await member.post(f"{url}/consent", json=CONSENT),
            await member.post(f"{url}/accept"),
            await member.post(f"{url}/assign", json=ASSIGN),
            await member.post(f"{url}/activate"),
            await member.post(f"{url}/discharge", json={"outcome": "moved_away"}),
        ]
    assert [a.status_code for a in answers] == [200] * 6
    final = answers[-1].json()
    assert (final["status"], final["outcome"], final["consent_by"]) == (
        "discharged",
        "moved_away",
        "staff",
    )
    assert published(kit)[-1].event_type == "referral.discharged"


async def test_consent_by_a_practice_token_is_403_and_unknown_is_401(kit: Kit) -> None:
    referral_id = await refer(kit)
    async with staff(kit) as member:
        await member.post(f"/v1/referrals/{referral_id}/triage", json={"priority": "routine"})
    before = published(kit)
    async with practice(kit) as gp:
        refused = await gp.post(f"/v1/referrals/{referral_id}/consent", json=CONSENT)
    async with kit.client() as anonymous:
        anonymous.headers["Authorization"] = "Bearer nonsense"
        unknown = await anonymous.post(f"/v1/referrals/{referral_id}/consent", json=CONSENT)
    assert (refused.status_code, unknown.status_code) == (403, 401)
    assert published(kit) == before
    (saved,) = stored(kit)
    assert saved.consent is None


async def test_an_illegal_transition_is_409_with_the_allowed_states_and_changes_nothing(
    kit: Kit,
) -> None:
    referral_id = await refer(kit)
    before = stored(kit)
    async with staff(kit) as member:
        early = await member.post(
            f"/v1/referrals/{referral_id}/complete", json={"outcome": "goals_met"}
        )
        no_worker = await member.post(f"/v1/referrals/{referral_id}/assign", json=ASSIGN)
    assert early.status_code == 409
    assert early.json()["detail"] == {
        "message": "a requested referral cannot become completed",
        "status": "requested",
        "allowed": ["declined", "triaged", "withdrawn"],
    }
    assert no_worker.status_code == 409
    assert stored(kit) == before
    assert len(published(kit)) == 1


async def test_bad_input_is_422(kit: Kit) -> None:
    referral_id = await refer(kit)
    url = f"/v1/referrals/{referral_id}"
    async with staff(kit) as member:
        await member.post(f"{url}/triage", json={"priority": "routine"})
        answers = [
            await member.post(f"{url}/triage", json={"priority": "whenever"}),
            await member.post(f"{url}/consent", json={"decision": "maybe", "method": "phone"}),
            await member.post(f"{url}/consent", json=CONSENT | {"decided_at": "2026-12-07T10:00"}),
            await member.post(f"{url}/assign", json=ASSIGN | {"worker_id": "K 7;drop"}),
            await member.post(f"{url}/assign", json=ASSIGN | {"worker_name": "Kim\nKeyworker"}),
            await member.post(f"{url}/assign", json=ASSIGN | {"role": "coach"}),  # wrong team
            await member.post(f"{url}/assign", json=ASSIGN | {"supervisor_id": "K7"}),  # self
            await member.post(f"{url}/discharge", json={"outcome": "bored"}),
        ]
    assert [a.status_code for a in answers] == [422] * 8
    assert [e.event_type for e in published(kit)] == ["referral.requested", "referral.triaged"]


async def test_the_worklist_is_sorted_by_priority_then_due_time(kit: Kit) -> None:
    ids = [await refer(kit, nhs) for nhs in ("9990000026", "9990000034", "9990000042")]
    kit.consume(trigger(nhs_number="9990000018"))  # untriaged: comes first
    async with staff(kit) as member:
        for referral_id, priority in zip(ids, ("routine", "urgent", "urgent"), strict=True):
            kit.clock.advance(minutes=1)
            await member.post(f"/v1/referrals/{referral_id}/triage", json={"priority": priority})
        listed = await member.get("/v1/referrals/worklist", params={"service": "complex_care"})
        coaching = await member.get("/v1/referrals/worklist", params={"service": "health_coaching"})
        bad = await member.get("/v1/referrals/worklist", params={"service": "physio"})
    async with practice(kit) as gp:
        not_staff = await gp.get("/v1/referrals/worklist", params={"service": "complex_care"})
    order: list[dict[str, Any]] = listed.json()["referrals"]
    assert [(r["priority"], r["referral_id"]) for r in order[1:]] == [
        ("urgent", ids[1]),
        ("urgent", ids[2]),
        ("routine", ids[0]),
    ]
    assert order[0]["source"] == "hot_onboarding"
    assert coaching.json() == {"referrals": []}
    assert (bad.status_code, not_staff.status_code) == (422, 401)


async def test_notes_are_for_staff_and_the_owning_practice(kit: Kit) -> None:
    referral_id = await refer(kit)
    url = f"/v1/referrals/{referral_id}/notes"
    async with practice(kit) as gp:
        added = await gp.post(url, json={"text": "daughter is main carer"})
        own = await gp.get(url)
    async with practice(kit, "L85002") as other:
        theirs = await other.get(url)
        theirs_add = await other.post(url, json={"text": "x"})
    kit.clock.advance(minutes=1)
    async with staff(kit) as member:
        await member.post(url, json={"text": "called, no answer"})
        everyone = await member.get(url)
        missing = await member.get(f"/v1/referrals/{uuid4()}/notes")
        empty = await member.post(url, json={"text": ""})
    assert (added.status_code, own.status_code) == (201, 200)
    assert (theirs.status_code, theirs_add.status_code, missing.status_code) == (404, 404, 404)
    assert empty.status_code == 422
    assert [n["text"] for n in everyone.json()["notes"]] == [
        "daughter is main carer",
        "called, no answer",
    ]
    assert all("carer" not in e.model_dump_json() for e in published(kit))


async def test_the_gp_withdraws_its_own_referral(kit: Kit) -> None:
    referral_id = await refer(kit)
    async with practice(kit, "L85002") as other:
        theirs = await other.post(f"/v1/referrals/{referral_id}/withdraw")
    async with practice(kit) as gp:
        withdrawn = await gp.post(f"/v1/referrals/{referral_id}/withdraw")
        again = await gp.post(f"/v1/referrals/{referral_id}/withdraw")
        rereferred = await gp.post("/v1/referrals", json=BODY)
    assert (theirs.status_code, withdrawn.status_code, again.status_code) == (404, 200, 409)
    assert rereferred.status_code == 201  # a closed referral never blocks a new one
    assert published(kit)[1].event_type == "referral.withdrawn"
